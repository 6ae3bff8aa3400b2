"""What other apps may ask of accounts."""

from __future__ import annotations

from typing import Any

from accounts.contracts import Role, SignedInAccount
from accounts.models import Account


def account_of_user_sql(user_column: str) -> str:
    """A subquery for another app's SQL: the account (role, patient) of the user whose id is in `user_column`
    (a column name of the caller's own statement, never input)."""
    return f"SELECT role, patient FROM accounts_account WHERE user_id = {user_column}"  # noqa: S608


def signed_in_account(user: Any) -> SignedInAccount | None:
    """The account of a signed-in Django user, or None for an anonymous user or one that never signed in
    through OpenID Connect."""
    if not getattr(user, "is_authenticated", False):
        return None
    account = Account.objects.filter(user=user).first()
    if account is None:
        return None
    return SignedInAccount(
        subject=f"{account.issuer}|{account.subject}",
        role=Role(account.role) if account.role else None,
        patient=account.patient,
        organization=account.organization,
        practitioner=account.practitioner,
        municipality=account.municipality,
    )
