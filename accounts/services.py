"""Writes of accounts: the sign-in that finds or makes one, and the role an administrator gives it."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from accounts.contracts import Role
from accounts.models import Account

STAFF_ROLES = {Role.DATA_STEWARD, Role.ADMINISTRATOR}
STEWARD_PERMISSIONS = ("federation.steward_identity",)


@transaction.atomic
def account_signed_in(*, issuer: str, subject: str, claims: dict[str, Any]) -> Account:
    """The account of (issuer, subject), made on first sign-in with no role; its display name follows the
    provider's claims. The username is internal and never shown to other parties."""
    account = account_register(issuer=issuer, subject=subject)
    user = account.user
    user.first_name = str(claims.get("given_name") or "")[:150]
    user.last_name = str(claims.get("family_name") or claims.get("name") or "")[:150]
    user.email = str(claims.get("email") or "")[:254]
    user.save(update_fields=["first_name", "last_name", "email"])
    account.last_login_at = timezone.now()
    account.save(update_fields=["last_login_at"])
    return account


@transaction.atomic
def account_register(*, issuer: str, subject: str) -> Account:
    """The account of (issuer, subject), made without a role if it is new (before or at its first sign-in)."""
    account = Account.objects.select_for_update().filter(issuer=issuer, subject=subject).first()
    if account is None:
        user = get_user_model().objects.create_user(username=_internal_username(issuer, subject))
        account = Account.objects.create(user=user, issuer=issuer, subject=subject)
    return account


@transaction.atomic
def account_assign_role(
    *,
    account: Account,
    role: Role | None,
    patient: str = "",
    organization: str = "",
    practitioner: str = "",
    municipality: str = "",
) -> Account:
    """Give `account` a role and its ties (or take the role away with None). Stewards and administrators
    become staff of the steward's pages; an administrator is a superuser there."""
    account.role = role.value if role else ""
    account.patient, account.organization = patient, organization
    account.practitioner, account.municipality = practitioner, municipality
    account.full_clean(exclude=["user"])
    account.save()
    user = account.user
    user.is_staff = role in STAFF_ROLES
    user.is_superuser = role is Role.ADMINISTRATOR
    user.save(update_fields=["is_staff", "is_superuser"])
    steward_permissions = Permission.objects.filter(
        content_type__app_label="federation", codename__in=[name.split(".")[1] for name in STEWARD_PERMISSIONS]
    )
    if role is Role.DATA_STEWARD:
        user.user_permissions.add(*steward_permissions)
    else:
        user.user_permissions.remove(*steward_permissions)
    return account


def _internal_username(issuer: str, subject: str) -> str:
    return "oidc-" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:40]
