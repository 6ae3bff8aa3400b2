"""Bearer tokens on the FHIR API: django-oauth-toolkit checks the token (known, unexpired, not revoked); what it
may do is read from its SMART scopes."""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication

from consent.contracts import AccessContext, AccessKind, Purpose
from consent.models import TokenAccess
from consent.scopes import Interaction, ScopeContext, grant_of


class BearerTokenAuthentication(OAuth2Authentication):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    www_authenticate_realm = "tsunagi"


def access_for_token(token: Any) -> AccessContext:
    """The access context of a request made with `token` (a django-oauth-toolkit AccessToken): the patient or
    user side recorded with it when it was issued (TokenAccess), else the system context of its client."""
    try:
        side = token.access  # loaded with the token (SmartValidator), or looked up once and remembered
    except TokenAccess.DoesNotExist:
        side = None
    if side is None:
        return AccessContext(
            kind=AccessKind.SYSTEM,
            purpose=Purpose.OPERATIONS,
            reason="fhir-api",
            client_id=token.application.client_id,
            scope=token.scope,
        )
    return AccessContext(
        kind=AccessKind(side.kind),
        purpose=Purpose(side.purpose),
        reason="fhir-api",
        client_id=token.application.client_id,
        scope=token.scope,
        patient=side.patient or None,
        subject=side.subject or None,
        role=side.role or None,
        organization=side.organization or None,
        practitioner=side.practitioner or None,
        municipality=side.municipality or None,
    )


def interaction_allowed(access: AccessContext, resource_type: str | None, interaction: str) -> bool:
    """Whether `access` may do `interaction` (a SMART letter: c r u d s) on `resource_type` (None: every type,
    which only a wildcard scope allows). The platform acting on its own (no client) may do anything."""
    if access.client_id is None:
        return True
    context = ScopeContext(access.kind.value)
    return grant_of(access.scope).allows(context, resource_type, Interaction(interaction))  # type: ignore[arg-type]
