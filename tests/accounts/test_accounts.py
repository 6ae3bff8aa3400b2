"""Accounts are found by issuer and subject, never by e-mail; a role cannot lack what it is tied to."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.test import override_settings

from accounts.contracts import Role
from accounts.models import Account
from accounts.oidc import AccountBackend
from accounts.services import account_assign_role, account_signed_in

ISSUER = "https://idp.example.jp/realms/region"
pytestmark = pytest.mark.django_db


def test_the_same_issuer_and_subject_is_the_same_account_whatever_the_email_says():
    first = account_signed_in(issuer=ISSUER, subject="abc", claims={"email": "old@example.jp", "name": "山田 花子"})
    again = account_signed_in(issuer=ISSUER, subject="abc", claims={"email": "new@example.jp", "name": "山田 花子"})

    assert again.pk == first.pk
    assert again.user.email == "new@example.jp"


def test_an_address_vouched_for_by_another_issuer_is_another_account():
    first = account_signed_in(issuer=ISSUER, subject="abc", claims={"email": "same@example.jp"})
    other = account_signed_in(issuer="https://other.example.jp", subject="abc", claims={"email": "same@example.jp"})

    assert other.pk != first.pk
    assert Account.objects.count() == 2


def test_a_new_account_has_no_role_and_no_staff_rights():
    account = account_signed_in(issuer=ISSUER, subject="abc", claims={})

    assert account.role == ""
    assert not account.user.is_staff
    assert not account.user.is_superuser


@pytest.mark.parametrize(
    ("role", "ties"),
    [
        (Role.PERSON, {}),
        (Role.CLINICIAN, {"organization": "Organization/1"}),
        (Role.CLINICIAN, {"practitioner": "Practitioner/1"}),
        (Role.WELFARE_OFFICER, {}),
    ],
)
def test_a_role_without_its_ties_is_refused(role, ties):
    account = account_signed_in(issuer=ISSUER, subject="abc", claims={})

    with pytest.raises(ValidationError):
        account_assign_role(account=account, role=role, **ties)
    account.refresh_from_db()
    assert account.role == ""


def test_a_steward_gets_the_stewards_pages_and_loses_them_with_the_role():
    account = account_signed_in(issuer=ISSUER, subject="abc", claims={})
    steward_permission = Permission.objects.get(codename="steward_identity")

    account_assign_role(account=account, role=Role.DATA_STEWARD)
    assert account.user.is_staff
    assert not account.user.is_superuser
    assert account.user.user_permissions.filter(pk=steward_permission.pk).exists()

    account_assign_role(
        account=account, role=Role.CLINICIAN, organization="Organization/1", practitioner="Practitioner/2"
    )
    assert not account.user.is_staff
    assert not account.user.user_permissions.exists()


def test_an_administrator_is_a_superuser_of_the_stewards_pages():
    account = account_signed_in(issuer=ISSUER, subject="abc", claims={})

    account_assign_role(account=account, role=Role.ADMINISTRATOR)

    assert account.user.is_staff
    assert account.user.is_superuser


@override_settings(OIDC_ISSUER=ISSUER)
@pytest.mark.parametrize(
    ("payload", "userinfo"),
    [
        ({"iss": "https://elsewhere.example.jp", "sub": "abc"}, {"sub": "abc"}),  # another issuer's token
        ({"iss": ISSUER, "sub": ""}, {"sub": ""}),  # no subject
        ({"iss": ISSUER, "sub": "abc"}, {"sub": "xyz"}),  # userinfo about someone else
    ],
)
def test_tokens_that_do_not_name_this_issuer_and_one_subject_sign_no_one_in(payload, userinfo, monkeypatch):
    backend = AccountBackend()
    monkeypatch.setattr(backend, "get_userinfo", lambda *_: userinfo)  # the provider's HTTP answer

    with pytest.raises(SuspiciousOperation):
        backend.get_or_create_user("access", "id", payload)
    assert not Account.objects.exists()
