"""The SMART standalone launch as an app and a browser drive it, over Django's test client: the authorize
request, the consent screen's form, the code exchange with PKCE."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client

from accounts.contracts import Role
from accounts.models import Account
from accounts.services import account_assign_role, account_register
from consent.clients import client_register
from consent.models import ClientKind

FHIR_BASE = "http://testserver/fhir"
REDIRECT_URI = "https://app.example.jp/callback"


def signed_in(subject: str, role: Role | None = None, **ties: str) -> tuple[Client, Account]:
    """A browser whose user signed in (the OpenID Connect login itself is tested end to end)."""
    account = account_register(issuer="https://idp.example.jp", subject=subject)
    if role is not None:
        account = account_assign_role(account=account, role=role, **ties)
    browser = Client()
    browser.force_login(account.user)
    return browser, account


@dataclass
class App:
    """A registered app with the PKCE pair of its current authorisation request."""

    client_id: str
    client_secret: str | None = None
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def authorize_url(self, scope: str, **overrides: str) -> str:
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": "state-123",
            "aud": FHIR_BASE,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **overrides,
        }
        return "/auth/authorize?" + urlencode({name: value for name, value in parameters.items() if value})

    def exchange(self, code: str, **overrides: str) -> Any:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": self.client_id,
            "code_verifier": self.verifier,
            **overrides,
        }
        sent = {name: value for name, value in form.items() if value}
        return Client().post("/auth/token", sent, headers=self._auth())

    def refresh(self, refresh_token: str) -> Any:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.client_id}
        return Client().post("/auth/token", form, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        if self.client_secret is None:
            return {}
        pair = f"{self.client_id}:{self.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def register_app(scopes: str, kind: ClientKind = ClientKind.PUBLIC) -> App:
    client = client_register(
        name="Kenko Note", kind=kind, organization="Organization/kenko", scopes=scopes, redirect_uris=[REDIRECT_URI]
    )
    return App(client.client_id, client.client_secret)


def approve(
    browser: Client, app: App, scope: str, *, untick: tuple[str, ...] = (), duration: str = "1h", allow: bool = True
) -> dict[str, list[str]]:
    """Open the consent screen, leave every offered scope ticked but `untick`, submit; the parameters the app's
    redirect URI receives."""
    screen = browser.get(app.authorize_url(scope))
    assert screen.status_code == 200, screen.content.decode()[:500]
    form = {name: value for name, value in screen.context["form"].initial.items() if value is not None}
    form["granted"] = [offered for offered, _ in screen.context["offered"] if offered not in untick]
    form["duration"] = duration
    if allow:
        form["allow"] = "true"
    return redirected_to_app(browser.post(app.authorize_url(scope), form))


def redirected_to_app(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302, response.content.decode()[:500]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI, response["Location"]
    return parse_qs(location.query)


def token_for(browser: Client, app: App, scope: str, **choices: Any) -> dict[str, Any]:
    """The token response after approving `scope` on the consent screen."""
    code = approve(browser, app, scope, **choices)["code"][0]
    response = app.exchange(code)
    assert response.status_code == 200, response.content
    return dict(response.json())


def bearer(access_token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {access_token}"})
