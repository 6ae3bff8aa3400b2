"""Bearer tokens on the FHIR API: django-oauth-toolkit checks the token (known, unexpired, not revoked); what it
may do is read from its SMART scopes, and whom it acts for from the authorisation it was issued under, kept
server-side (nothing the app sends, such as patient=, is trusted)."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.expressions import RawSQL
from oauth2_provider.contrib.rest_framework import OAuth2Authentication

from accounts.contracts import Role
from accounts.facade import account_annotations
from consent.contracts import AccessContext, AccessKind, Purpose
from consent.models import AppAuthorisation
from consent.scopes import Interaction, ScopeContext, grant_of
from consent.smart.launch import PURPOSES

SCOPE_CONTEXTS = {
    AccessKind.SYSTEM: ScopeContext.SYSTEM,
    AccessKind.PATIENT: ScopeContext.PATIENT,
    AccessKind.USER: ScopeContext.USER,
}


class BearerTokenAuthentication(OAuth2Authentication):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    www_authenticate_realm = "tsunagi"


# What the request's access context needs besides, asked in the same query: the Patients the account broke the
# glass for (unexpired declarations), and whether consent rules wait to be rebuilt (consent.rules).
EMERGENCY = (
    "(SELECT coalesce(array_agg(DISTINCT covered ORDER BY covered), '{}') FROM consent_breakglass g, "
    "unnest(g.patients) AS covered WHERE g.subject = consent_appauthorisation.subject AND g.expires_at > now())"
)
RULES_PENDING = "EXISTS (SELECT 1 FROM consent_rulerefresh)"


def token_authorisation(**token: Any) -> AppAuthorisation | None:
    """The authorisation a token was issued under (`access_token=` or `refresh_token=` a django-oauth-toolkit
    token), or None for a client's own token (client_credentials); annotated with its registration's
    organisation, its account's role and Patient, the account's break-the-glass Patients and whether rules are
    queued, in one query (every request with such a token asks)."""
    tokens = {f"tokens__{name}": value for name, value in token.items()}
    found = AppAuthorisation.objects.annotate(
        registration_organization=F("registration__organization"),
        emergency=RawSQL(EMERGENCY, ()),  # noqa: S611  # constant SQL, no input
        rules_pending=RawSQL(RULES_PENDING, ()),  # noqa: S611
        **account_annotations("user"),
    ).filter(**tokens)[:1]
    return next(iter(found), None)


def authorisation_holds(authorisation: AppAuthorisation) -> bool:
    """Whether tokens under `authorisation` (as token_authorisation gives it) may still be used: not revoked, not
    expired, and the account still has the role and the Patient it had when it approved the app."""
    role: str | None = getattr(authorisation, "account_role", None)
    patient: str | None = getattr(authorisation, "account_patient", None)
    return (
        authorisation.active
        and role == authorisation.role
        and (not authorisation.patient or patient == authorisation.patient)
    )


AUTHORISATION = "_tsunagi_authorisation"  # where a loaded token keeps its authorisation for the rest of its request


def access_token_authorisation(token: Any) -> AppAuthorisation | None:
    """`token_authorisation` of an access token, looked up once a request: the validator and the access context
    both need it."""
    if not hasattr(token, AUTHORISATION):
        setattr(token, AUTHORISATION, token_authorisation(access_token=token) if token.user_id is not None else None)
    return getattr(token, AUTHORISATION)  # type: ignore[no-any-return]


MEMO = "_tsunagi_access"  # where a loaded token keeps its context for the rest of its request


def access_for_token(token: Any) -> AccessContext:
    """The access context of a request made with `token` (a django-oauth-toolkit AccessToken): the client's own
    system context for client credentials; pinned to the person's Patient for patient/ scopes; the staff
    member's role and ties for user/ scopes. django-oauth-toolkit loads the token anew for each request, so the
    context is looked up once a request however many parts of it ask (scopes, selectors, audit)."""
    known: AccessContext | None = getattr(token, MEMO, None)
    if known is None:
        known = _access_of(token)
        setattr(token, MEMO, known)
    return known


def access_forget(token: Any) -> None:
    """Drop the context a token loaded for its request, after the request changed what it holds (a clinician's
    break-the-glass declaration): what comes after in the same request, such as its audit entry, sees the change."""
    for memo in (MEMO, AUTHORISATION):
        if hasattr(token, memo):
            delattr(token, memo)


def _access_of(token: Any) -> AccessContext:
    authorisation = access_token_authorisation(token)
    client_id = token.application.client_id
    if authorisation is None:
        return AccessContext(
            kind=AccessKind.SYSTEM,
            purpose=Purpose.OPERATIONS,
            reason="fhir-api",
            client_id=client_id,
            scope=token.scope,
        )
    if authorisation.patient:
        return AccessContext(
            kind=AccessKind.PATIENT,
            purpose=Purpose.PERSONAL,
            reason="fhir-api",
            client_id=client_id,
            scope=token.scope,
            patient=authorisation.patient.removeprefix("Patient/"),
            subject=authorisation.subject,
            role=authorisation.role,
            organization=authorisation.registration_organization,  # type: ignore[attr-defined]
        )
    from consent.rules import rules_probed  # reads the store through federation: on first use

    rules_probed(pending=authorisation.rules_pending)  # type: ignore[attr-defined]
    role = Role(authorisation.role)
    return AccessContext(
        kind=AccessKind.USER,
        purpose=PURPOSES[role],
        reason="fhir-api",
        client_id=client_id,
        scope=token.scope,
        subject=authorisation.subject,
        role=authorisation.role,
        organization=authorisation.organization or None,
        practitioner=authorisation.practitioner or None,
        municipality=authorisation.municipality or None,
        emergency=tuple(authorisation.emergency),  # type: ignore[attr-defined]
    )


def interaction_allowed(access: AccessContext, resource_type: str | None, interaction: str) -> bool:
    """Whether `access` may do `interaction` (a SMART letter: c r u d s) on `resource_type` (None: every type,
    which only a wildcard scope allows), with scopes of the context its kind acts in: patient/ for a pinned
    person, user/ for staff, system/ for a client alone. The platform acting on its own (no client) may do
    anything."""
    if access.client_id is None:
        return True
    context = SCOPE_CONTEXTS[access.kind]
    return grant_of(access.scope).allows(context, resource_type, Interaction(interaction))  # type: ignore[arg-type]
