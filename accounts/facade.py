"""What other apps may ask of accounts."""

from __future__ import annotations

from typing import Any

from accounts.contracts import Role, SignedInAccount
from accounts.models import Account


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
