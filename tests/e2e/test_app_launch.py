"""An app launched standalone against the real servers: the person signs in through the demo OpenID provider
(a real process) on the way to the consent screen, authorises the app, and the app exchanges its code with PKCE
and reads the person's own Patient with the token."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import requests

from accounts.contracts import Role
from accounts.services import account_assign_role, account_register
from tests.conftest import patient
from tests.consent.launch_helpers import REDIRECT_URI, register_app
from tests.e2e.conftest import DEMO_PASSWORD, SignInServers

SCOPE = "launch/patient patient/*.rs offline_access"


def form_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page's form, as a browser would send them."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields


def test_a_person_authorises_an_app_which_reads_their_record(sign_in_servers: SignInServers, bearer):
    platform = sign_in_servers.platform
    headers = {**bearer, "Content-Type": "application/fhir+json"}
    stored = requests.put(f"{platform}/fhir/Patient/p1", json=patient(id="p1"), headers=headers, timeout=10)
    assert stored.status_code == 201
    account = account_register(issuer=sign_in_servers.provider, subject="hanako")
    account_assign_role(account=account, role=Role.PERSON, patient="Patient/p1")
    app = register_app(SCOPE)
    browser = requests.Session()

    login = browser.get(f"{platform}{app.authorize_url(SCOPE, aud=f'{platform}/fhir')}", timeout=10)
    assert login.url.startswith(f"{sign_in_servers.provider.removesuffix('/o')}/login/"), login.url
    screen = browser.post(
        login.url,
        data={**form_fields(login.text), "username": "hanako", "password": DEMO_PASSWORD},
        headers={"Referer": login.url},
        timeout=10,
    )
    assert screen.url.startswith(f"{platform}/auth/authorize"), screen.url
    assert "Kenko Note" in screen.text
    approved = browser.post(
        screen.url,
        data={**form_fields(screen.text), "granted": SCOPE.split(), "duration": "30d", "allow": "true"},
        headers={"Referer": screen.url},
        allow_redirects=False,
        timeout=10,
    )
    assert approved.status_code == 302, approved.text[:500]
    assert approved.headers["Location"].startswith(REDIRECT_URI)
    code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]

    token = requests.post(
        f"{platform}/auth/token",
        data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": app.client_id, "code_verifier": app.verifier,
        },
        timeout=10,
    )  # fmt: skip
    assert token.status_code == 200, token.text
    assert token.json()["patient"] == "p1"
    read = requests.get(
        f"{platform}/fhir/Patient/p1", headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=10
    )
    assert read.status_code == 200, read.text
    assert read.json()["id"] == "p1"
    apps = browser.get(f"{platform}/apps/", timeout=10)
    assert "Kenko Note" in apps.text
