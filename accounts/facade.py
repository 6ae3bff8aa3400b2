"""What other apps may ask of accounts."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from accounts.contracts import Role, SignedInAccount
from accounts.models import Account


def account_annotations(user_path: str) -> dict[str, F]:
    """Annotations bringing, with rows that lead to a user at `user_path`, what a token's holder is checked
    against (`account_role`, `account_patient`; None without an account): no second query for the account."""
    return {"account_role": F(f"{user_path}__account__role"), "account_patient": F(f"{user_path}__account__patient")}


def signed_in_account(user: Any) -> SignedInAccount | None:
    """The account of a signed-in Django user, or None for an anonymous user or one that never signed in
    through OpenID Connect."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        account = user.account  # no query when the caller loaded it with the user (select_related)
    except Account.DoesNotExist:
        return None
    return SignedInAccount(
        subject=f"{account.issuer}|{account.subject}",
        role=Role(account.role) if account.role else None,
        patient=account.patient,
        organization=account.organization,
        practitioner=account.practitioner,
        municipality=account.municipality,
    )
