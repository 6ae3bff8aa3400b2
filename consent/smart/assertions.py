"""SMART Backend Services client authentication: a JWT the client signs with its private key (private_key_jwt,
RFC 7523), checked against the JWK Set it registered. Each assertion is accepted once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from jwcrypto import jwk, jws, jwt

from consent.models import ClientKind, ClientRegistration, UsedClientAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["RS384", "ES384", "RS256", "ES256"]  # SMART requires RS384 and ES384 to be supported
MAX_LIFETIME = timedelta(minutes=5)  # SMART: exp no more than five minutes in the future
LEEWAY = timedelta(seconds=30)


class ClientAssertionError(ValueError):
    """Why a client assertion is refused (said to the client as invalid_client, logged without the token)."""


def assertion_client(*, assertion: str, token_endpoint: str) -> ClientRegistration:
    """The backend client that signed `assertion` for `token_endpoint`; raises ClientAssertionError otherwise."""
    try:
        unverified = json.loads(jwt.JWT(jwt=assertion).token.objects["payload"])
    except (ValueError, KeyError, TypeError, jws.InvalidJWSObject) as failure:
        raise ClientAssertionError("the client assertion is not a JWT") from failure
    client_id = unverified.get("iss")
    registration = (
        ClientRegistration.objects.select_related("application")
        .filter(application__client_id=client_id, kind=ClientKind.BACKEND)
        .first()
    )
    if registration is None or not registration.jwks:
        raise ClientAssertionError("no backend client is registered under the assertion's issuer")
    try:
        verified = jwt.JWT(jwt=assertion, key=jwk.JWKSet.from_json(json.dumps(registration.jwks)), algs=ALGORITHMS)
        claims = json.loads(verified.claims)
    except Exception as failure:  # jwcrypto raises many types for a bad signature, key or algorithm
        raise ClientAssertionError(
            "the client assertion's signature does not verify with the registered keys"
        ) from failure
    _check_claims(claims, client_id, token_endpoint)
    _remember(registration, claims)
    return registration


def _check_claims(claims: dict[str, object], client_id: str, token_endpoint: str) -> None:
    now = datetime.now(UTC)
    if claims.get("sub") != client_id:
        raise ClientAssertionError("the client assertion's sub is not its iss")
    audiences = claims.get("aud")
    if token_endpoint not in (audiences if isinstance(audiences, list) else [audiences]):
        raise ClientAssertionError("the client assertion is not addressed to this token endpoint")
    expires = claims.get("exp")
    if not isinstance(expires, int | float):
        raise ClientAssertionError("the client assertion has no exp")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at < now - LEEWAY or expires_at > now + MAX_LIFETIME + LEEWAY:
        raise ClientAssertionError("the client assertion has expired or lives longer than five minutes")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise ClientAssertionError("the client assertion has no jti")


def _remember(registration: ClientRegistration, claims: dict[str, object]) -> None:
    expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC)  # type: ignore[arg-type]
    UsedClientAssertion.objects.filter(expires_at__lt=datetime.now(UTC) - LEEWAY).delete()
    try:
        with transaction.atomic():
            UsedClientAssertion.objects.create(registration=registration, jti=str(claims["jti"]), expires_at=expires_at)
    except IntegrityError as replay:
        raise ClientAssertionError("the client assertion was used before") from replay
