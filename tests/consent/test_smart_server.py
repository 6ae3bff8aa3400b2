"""The SMART authorisation server: registering apps, client_credentials with a secret (back-office) or a
signed assertion (backend services), revocation and introspection, and the smart-configuration document."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from jwcrypto import jwk, jwt

from consent.clients import RegistrationError, client_register
from consent.models import ClientKind

pytestmark = pytest.mark.django_db
TOKEN_URL = "http://testserver/auth/token"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def back_office(scopes: str = "system/*.rs") -> tuple[str, str]:
    client = client_register(
        name="Municipal system", kind=ClientKind.CONFIDENTIAL, organization="Organization/city",
        scopes=scopes, redirect_uris=[],
    )  # fmt: skip
    assert client.client_secret
    return client.client_id, client.client_secret


def backend(key: jwk.JWK) -> str:
    public = json.loads(key.export_public())
    return client_register(
        name="Regional analytics", kind=ClientKind.BACKEND, organization="Organization/analytics",
        scopes="system/*.rs", redirect_uris=[], jwks={"keys": [public]},
    ).client_id  # fmt: skip


def assertion(key: jwk.JWK, client_id: str, **overrides: object) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 240,
        "jti": str(uuid.uuid4()),
    }
    token = jwt.JWT(header=json.dumps({"alg": "RS384", "kid": key.key_id}), claims=json.dumps({**claims, **overrides}))
    token.make_signed_token(key)
    return str(token.serialize())


def rsa_key() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048, kid=str(uuid.uuid4()))


def token_request(form: dict[str, str], headers: dict[str, str] | None = None):
    return Client().post("/auth/token", {"grant_type": "client_credentials", **form}, headers=headers or {})


def test_a_back_office_client_gets_a_system_token_with_its_secret():
    client_id, secret = back_office()

    response = token_request({"scope": "system/*.rs"}, basic(client_id, secret))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "system/*.rs"


def test_a_wrong_secret_or_a_scope_beyond_the_registration_is_refused():
    client_id, secret = back_office(scopes="system/Observation.rs")

    assert token_request({"scope": "system/Observation.rs"}, basic(client_id, "wrong")).status_code == 401
    refused = token_request({"scope": "system/*.rs"}, basic(client_id, secret))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"


def test_a_backend_service_gets_a_token_with_a_signed_assertion_once():
    key = rsa_key()
    client_id = backend(key)
    signed = assertion(key, client_id)
    form = {
        "scope": "system/*.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed,
    }

    assert token_request(form).status_code == 200
    assert token_request(form).status_code == 401  # the same assertion again: a replay


@pytest.mark.parametrize(
    "change",
    [
        {"key": "other"},  # signed with a key the client did not register
        {"aud": "https://elsewhere.example.jp/token"},
        {"exp": int(time.time()) + 3600},  # lives longer than five minutes
        {"exp": int(time.time()) - 600},  # expired
        {"sub": "someone-else"},
    ],
)
def test_a_backend_assertion_that_is_wrong_in_any_way_is_refused(change):
    key = rsa_key()
    client_id = backend(key)
    signing_key = rsa_key() if change.pop("key", None) else key
    form = {
        "scope": "system/*.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(signing_key, client_id, **change),
    }

    assert token_request(form).status_code == 401


def test_a_backend_client_cannot_use_a_secret_instead_of_signing():
    key = rsa_key()
    client_id = backend(key)

    assert token_request({"scope": "system/*.rs"}, basic(client_id, "anything")).status_code == 401


def test_a_revoked_token_is_no_longer_active():
    client_id, secret = back_office()
    access = token_request({"scope": "system/*.rs"}, basic(client_id, secret)).json()["access_token"]

    def introspect() -> dict[str, object]:
        response = Client().post("/auth/introspect", {"token": access}, headers=basic(client_id, secret))
        return dict(response.json())

    assert introspect()["active"] is True
    assert Client().post("/auth/revoke", {"token": access}, headers=basic(client_id, secret)).status_code == 200
    assert introspect()["active"] is False


def test_smart_configuration_lists_the_endpoints_that_exist():
    document = Client().get("/fhir/.well-known/smart-configuration").json()

    assert document["token_endpoint"] == TOKEN_URL
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    assert document["grant_types_supported"] == ["authorization_code", "client_credentials", "refresh_token"]
    assert document["authorization_endpoint"] == "http://testserver/auth/authorize"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "sso-openid-connect" not in document["capabilities"]  # no ID tokens are issued
    assert Client().get("/.well-known/smart-configuration").json() == document


def test_register_client_prints_the_id_and_a_confidential_clients_secret_once(capsys):
    call_command(
        "register_client", "--name", "Clinic app", "--kind", "confidential", "--organization", "Organization/1",
        "--redirect-uri", "https://app.example.jp/callback", "--scopes", "user/*.rs",
    )  # fmt: skip

    printed = capsys.readouterr().out
    assert "client_id: " in printed
    assert "client_secret: " in printed


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--kind", "backend", "--scopes", "system/*.rs"], "JWK Set"),
        (["--kind", "public", "--scopes", "patient/*.rs"], "redirect URI"),
        (["--kind", "public", "--scopes", "patient/Observation.sr", "--redirect-uri", "https://a.example/cb"], "cruds"),
    ],
)
def test_register_client_refuses_what_cannot_work_with_a_usage_error(arguments, reason):
    with pytest.raises(CommandError, match=reason) as refused:
        call_command("register_client", "--name", "x", "--organization", "Organization/1", *arguments)
    assert refused.value.returncode == 2


def test_a_backend_registration_with_a_private_key_is_refused():
    with pytest.raises(RegistrationError, match="public keys only"):
        client_register(
            name="x", kind=ClientKind.BACKEND, organization="Organization/1", scopes="system/*.rs",
            redirect_uris=[], jwks={"keys": [json.loads(rsa_key().export_private())]},
        )  # fmt: skip
