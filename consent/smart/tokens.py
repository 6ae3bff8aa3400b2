"""Bearer tokens on the FHIR API: django-oauth-toolkit checks the token (known, unexpired, not revoked); what it
may do is read from its SMART scopes, and whom it acts for from the authorisation it was issued under, kept
server-side (nothing the app sends, such as patient=, is trusted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from oauth2_provider.contrib.rest_framework import OAuth2Authentication

from accounts.contracts import Role
from accounts.facade import account_of_user_sql
from consent.contracts import AccessContext, AccessKind, Purpose
from consent.models import RULES_PENDING_SQL, emergency_patients_sql
from consent.scopes import Interaction, ScopeContext, grant_of
from consent.smart.launch import PURPOSES

SCOPE_CONTEXTS = {
    AccessKind.SYSTEM: ScopeContext.SYSTEM,
    AccessKind.PATIENT: ScopeContext.PATIENT,
    AccessKind.USER: ScopeContext.USER,
}


class BearerTokenAuthentication(OAuth2Authentication):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    www_authenticate_realm = "tsunagi"


@dataclass(frozen=True)
class IssuedUnder:
    """The authorisation a token was issued under, with what each request checks or needs beside it: the
    registration's organisation, the account's current role and Patient, the Patients the account broke the
    glass for (unexpired), and whether consent rules wait to be rebuilt (consent.rules)."""

    id: int
    subject: str
    role: str
    patient: str
    organization: str
    practitioner: str
    municipality: str
    expires_at: datetime
    revoked_at: datetime | None
    registration_organization: str
    account_role: str | None
    account_patient: str | None
    emergency: tuple[str, ...]
    rules_pending: bool

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


# One statement, written out: every request with a person's or a staff member's token runs it, and building it
# with the ORM (five joined models, annotations) cost a millisecond of Python a request.
ISSUED_UNDER = f"""
SELECT a.id, a.subject, a.role, a.patient, a.organization, a.practitioner, a.municipality, a.expires_at, a.revoked_at,
       r.organization, account.role, account.patient, {emergency_patients_sql("a.subject")}, {RULES_PENDING_SQL}
FROM consent_authorisedtoken t
JOIN consent_appauthorisation a ON a.id = t.authorisation_id
JOIN consent_clientregistration r ON r.id = a.registration_id
LEFT JOIN LATERAL ({account_of_user_sql("a.user_id")}) AS account ON true
WHERE t.<token>_id = %s LIMIT 1"""  # noqa: S608  # no input in the text: the token's key is a parameter


def token_authorisation(*, access_token: Any = None, refresh_token: Any = None) -> IssuedUnder | None:
    """What an access or a refresh token (django-oauth-toolkit's) was issued under, or None for a client's own
    token (client_credentials)."""
    column, token = ("access_token", access_token) if access_token is not None else ("refresh_token", refresh_token)
    with connection.cursor() as cursor:
        cursor.execute(ISSUED_UNDER.replace("<token>", column), [token.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    fields = list(row)  # in IssuedUnder's order
    fields[-2] = tuple(fields[-2])  # the break-the-glass Patients, a text[]
    return IssuedUnder(*fields)


def authorisation_holds(authorisation: IssuedUnder) -> bool:
    """Whether tokens under `authorisation` may still be used: not revoked, not expired, and the account still
    has the role and the Patient it had when it approved the app."""
    return (
        authorisation.active
        and authorisation.account_role == authorisation.role
        and (not authorisation.patient or authorisation.account_patient == authorisation.patient)
    )


AUTHORISATION = "_tsunagi_authorisation"  # where a loaded token keeps its authorisation for the rest of its request


def access_token_authorisation(token: Any) -> IssuedUnder | None:
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
    from consent.rules import rules_probed  # reads the store through federation: on first use
    from federation import facade as federation

    rules_probed(pending=authorisation.rules_pending)
    if authorisation.patient:
        pinned = authorisation.patient.removeprefix("Patient/")
        return AccessContext(
            kind=AccessKind.PATIENT,
            purpose=Purpose.PERSONAL,
            reason="fhir-api",
            client_id=client_id,
            scope=token.scope,
            patient=pinned,
            person=tuple(federation.person_of_patient(pinned)),
            subject=authorisation.subject,
            role=authorisation.role,
            organization=authorisation.registration_organization,
        )
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
        emergency=authorisation.emergency,
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
