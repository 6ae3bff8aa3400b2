"""What the demo provider says about a signed-in account: a stable subject and the profile claims."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class DemoClaimsValidator(OAuth2Validator):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    """The subject is the account's username, not its row number, so it survives a re-seeded database
    (the platform keys its users on issuer + subject)."""

    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "sub": "openid",
        "name": "profile",
        "family_name": "profile",
        "given_name": "profile",
        "preferred_username": "profile",
        "email": "email",
    }

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "sub": user.username,
            "name": f"{user.last_name} {user.first_name}".strip() or user.username,  # family name first
            "family_name": user.last_name,
            "given_name": user.first_name,
            "preferred_username": user.username,
            "email": user.email,
        }
