"""Sign-in through OpenID Connect (mozilla-django-oidc): the account is found by the ID token's issuer and
subject, never by e-mail, since an address can change hands and two providers can vouch for one address.
Every sign-in through the provider, accepted or refused, is audited."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import Account
from accounts.services import account_signed_in
from consent.contracts import AuditCategory, AuditEntry
from consent.facade import audit_record

log = logging.getLogger(__name__)


class AccountBackend(OIDCAuthenticationBackend):  # type: ignore[misc]  # mozilla-django-oidc has no type hints
    claimed_subject: str | None = None  # "issuer|sub" of the ID token, once it verified

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> AbstractBaseUser | None:
        if request is None or not (request.GET.get("code") and request.GET.get("state")):
            return cast(AbstractBaseUser | None, super().authenticate(request, **kwargs))  # not from the provider
        try:
            user = cast(AbstractBaseUser | None, super().authenticate(request, **kwargs))
        except Exception as error:
            _sign_in_audit(request, subject=self.claimed_subject, refused=type(error).__name__)
            raise
        if user is None:
            _sign_in_audit(request, subject=self.claimed_subject, refused="the provider's answer was not accepted")
        else:
            _sign_in_audit(request, subject=self.claimed_subject, account=Account.objects.get(user_id=user.pk))
        return user

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> AbstractBaseUser:
        issuer, subject = payload.get("iss", ""), payload.get("sub", "")
        self.claimed_subject = f"{issuer}|{subject}"
        if issuer != settings.OIDC_ISSUER or not subject:
            raise SuspiciousOperation("the ID token names another issuer or no subject")
        claims = self.get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != subject:  # OpenID Connect Core 5.3.2: userinfo must be about the same subject
            raise SuspiciousOperation("the userinfo answer is about another subject")
        return account_signed_in(issuer=issuer, subject=subject, claims=claims).user


def _sign_in_audit(
    request: HttpRequest, *, subject: str | None, account: Account | None = None, refused: str = ""
) -> None:
    """A login event (DICOM 110114/110122): who signed in, or tried to, from where; a person's own record is
    the entity, so the person sees their sign-ins in their trail."""
    patient = account.patient.removeprefix("Patient/") if account is not None and account.patient else None
    audit_record(
        entry=AuditEntry(
            category=AuditCategory.LOGIN,
            subtype="login",
            action="E",
            status=401 if refused else 200,
            access=None,
            outcome_text=f"sign-in refused: {refused}" if refused else "",
            subject=subject,
            role=(account.role or None) if account is not None else None,
            patients=(patient,) if patient else (),
            network=request.META.get("REMOTE_ADDR"),
        )
    )
