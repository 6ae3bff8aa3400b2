"""Sign-in through OpenID Connect (mozilla-django-oidc): the account is found by the ID token's issuer and
subject, never by e-mail, since an address can change hands and two providers can vouch for one address."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.services import account_signed_in

log = logging.getLogger(__name__)


class AccountBackend(OIDCAuthenticationBackend):  # type: ignore[misc]  # mozilla-django-oidc has no type hints
    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> AbstractBaseUser:
        issuer, subject = payload.get("iss", ""), payload.get("sub", "")
        if issuer != settings.OIDC_ISSUER or not subject:
            raise SuspiciousOperation("the ID token names another issuer or no subject")
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != subject:  # OpenID Connect Core 5.3.2: userinfo must be about the same subject
            raise SuspiciousOperation("the userinfo answer is about another subject")
        return account_signed_in(issuer=issuer, subject=subject, claims=claims).user
