"""The demo accounts and the platform's client registration, made idempotently at every start."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from oauth2_provider.models import get_application_model


@dataclass(frozen=True)
class DemoAccount:
    username: str
    family_name: str
    given_name: str
    about: str


# Invented people (no real personal data); the platform gives each its role (accounts.demo).
DEMO_ACCOUNTS = (
    DemoAccount("hanako", "山田", "花子", "a resident, signs in to see her own records"),
    DemoAccount("dr-sato", "佐藤", "健一", "a clinician at the demo hospital"),
    DemoAccount("welfare-ito", "伊藤", "美咲", "a welfare officer of the demo municipality"),
    DemoAccount("steward-kato", "加藤", "誠", "the region's data steward"),
    DemoAccount("admin-mori", "森", "直子", "the platform's administrator"),
)


def seed(*, password: str, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
    users = get_user_model()
    for account in DEMO_ACCOUNTS:
        user, _ = users.objects.get_or_create(username=account.username)
        user.first_name, user.last_name = account.given_name, account.family_name
        user.email = f"{account.username}@demo.tsunagi.example.jp"
        user.set_password(password)
        user.save()
    applications = get_application_model()
    applications.objects.update_or_create(
        client_id=client_id,
        defaults={
            "name": "Tsunagi platform",
            "client_type": applications.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": applications.GRANT_AUTHORIZATION_CODE,
            "client_secret": client_secret,
            "redirect_uris": " ".join(redirect_uris),
            "algorithm": applications.RS256_ALGORITHM,
            "skip_authorization": True,  # the platform is the region's own front door, not a third-party app
        },
    )
