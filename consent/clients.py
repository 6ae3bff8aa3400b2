"""Registering apps with the authorisation server (`manage.py register_client`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from jwcrypto import jwk
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from consent.models import ClientKind, ClientRegistration
from consent.scopes import grant_of


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None  # shown once, for a confidential client; stored only as a hash


class RegistrationError(ValueError):
    """Why an app cannot be registered as asked (the message says what to change)."""


@transaction.atomic
def client_register(
    *,
    name: str,
    kind: ClientKind,
    organization: str,
    scopes: str,
    redirect_uris: list[str],
    jwks: dict[str, Any] | None = None,
) -> RegisteredClient:
    """Register an app. Its scopes must be SMART scopes. A backend signs with keys from its JWK Set; a public app
    needs a redirect URI; a confidential one with a redirect URI acts for signed-in users, without one it is a
    back-office system using client_credentials with its secret."""
    grant_of(scopes)  # raises ScopeError naming a malformed scope
    if not organization.startswith("Organization/") or len(organization) <= len("Organization/"):
        raise RegistrationError(f"--organization must be Organization/<id>, not '{organization}'")
    if kind is ClientKind.BACKEND:
        if not jwks or redirect_uris:
            raise RegistrationError("a backend client registers a JWK Set (--jwks) and no redirect URI")
        _check_public_keys(jwks)
    elif jwks or (kind is ClientKind.PUBLIC and not redirect_uris):
        raise RegistrationError(f"a {kind.value} client registers no JWK Set; a public one needs a redirect URI")
    secret = generate_client_secret() if kind is ClientKind.CONFIDENTIAL else None
    application = Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC if kind is ClientKind.PUBLIC else Application.CLIENT_CONFIDENTIAL,
        # an app with a redirect URI acts for a signed-in user; one without is a back-office system
        authorization_grant_type=(
            Application.GRANT_AUTHORIZATION_CODE if redirect_uris else Application.GRANT_CLIENT_CREDENTIALS
        ),
        client_secret=secret or generate_client_secret(),  # a backend's is never shown: it signs instead
        redirect_uris=" ".join(redirect_uris),
        skip_authorization=False,
    )
    ClientRegistration.objects.create(
        application=application, kind=kind, organization=organization, scopes=scopes, jwks=jwks
    )
    return RegisteredClient(client_id=application.client_id, client_secret=secret)


def _check_public_keys(jwks: dict[str, Any]) -> None:
    try:
        keys = jwk.JWKSet.from_json(json.dumps(jwks))
    except Exception as failure:  # jwcrypto raises several types for a malformed set
        raise RegistrationError("--jwks is not a JWK Set") from failure
    if not keys["keys"] or any(key.has_private for key in keys["keys"]):
        raise RegistrationError("--jwks must hold public keys only, at least one")
