"""Signing in through the demo OpenID provider, a real process: the authorization code flow with PKCE from the
platform's sign-in link to its landing page, and the account found again by issuer and subject."""

from __future__ import annotations

import re

import requests

from accounts.contracts import Role
from accounts.models import Account
from accounts.services import account_assign_role
from tests.e2e.conftest import DEMO_PASSWORD, SignInServers


def sign_in(servers: SignInServers, username: str, password: str = DEMO_PASSWORD) -> requests.Session:
    """What a browser does: follow the sign-in link to the provider's form, post it, follow the redirects."""
    browser = requests.Session()
    form = browser.get(f"{servers.platform}/oidc/authenticate/", timeout=10)
    assert form.url.startswith(f"{servers.provider.removesuffix('/o')}/login/"), form.url
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    next_url = re.search(r'name="next" value="([^"]*)"', form.text)
    assert token
    assert next_url
    browser.post(
        form.url,
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
            "next": next_url.group(1).replace("&amp;", "&"),
        },
        headers={"Referer": form.url},
        timeout=10,
    )
    return browser


def test_a_resident_signs_in_and_gets_an_account_keyed_on_issuer_and_subject(sign_in_servers):
    browser = sign_in(sign_in_servers, "hanako")

    landing = browser.get(f"{sign_in_servers.platform}/", timeout=10)
    assert "山田 花子 としてサインイン中" in landing.text
    assert "no role yet" in landing.text
    account = Account.objects.get()
    assert (account.issuer, account.subject) == (sign_in_servers.provider, "hanako")
    assert account.user.email == "hanako@demo.tsunagi.example.jp"
    assert account.role == ""

    account_assign_role(account=account, role=Role.PERSON, patient="Patient/demo-1")
    again = sign_in(sign_in_servers, "hanako")
    assert "(person)" in again.get(f"{sign_in_servers.platform}/", timeout=10).text
    assert Account.objects.count() == 1  # the same issuer and subject: the same account


def test_a_wrong_password_signs_no_one_in(sign_in_servers):
    browser = sign_in(sign_in_servers, "hanako", password="not-the-password")

    assert 'id="sign-in"' in browser.get(f"{sign_in_servers.platform}/", timeout=10).text
    assert not Account.objects.exists()


def test_signing_out_ends_the_platform_session(sign_in_servers):
    browser = sign_in(sign_in_servers, "dr-sato")
    landing = browser.get(f"{sign_in_servers.platform}/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', landing.text)
    assert token

    browser.post(
        f"{sign_in_servers.platform}/oidc/logout/",
        data={"csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{sign_in_servers.platform}/"},
        timeout=10,
    )

    assert 'id="sign-in"' in browser.get(f"{sign_in_servers.platform}/", timeout=10).text
