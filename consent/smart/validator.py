"""django-oauth-toolkit's request validator, taught SMART: scopes are checked against what the app was
registered for, backend clients authenticate with a signed assertion instead of a secret, and tokens issued to
an app a person authorised carry that authorisation (its patient, its end, its offline_access)."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from consent.models import AppAuthorisation, AuthorisedToken, ClientKind, ClientRegistration
from consent.scopes import ScopeContext, ScopeError, grant_of
from consent.smart.assertions import ASSERTION_TYPE, ClientAssertionError, assertion_client
from consent.smart.authorisations import app_authorisation_grant
from consent.smart.tokens import IssuedUnder, access_token_authorisation, authorisation_holds, token_authorisation

log = logging.getLogger(__name__)


class SmartValidator(OAuth2Validator):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if getattr(request, "client_assertion_type", None) == ASSERTION_TYPE:
            return self._authenticate_by_assertion(request)
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        registration = _registration(request.client)
        return registration is not None and registration.kind != ClientKind.BACKEND  # backends sign, never share

    def _authenticate_by_assertion(self, request: Any) -> bool:
        token_endpoint = _token_endpoint(request.headers)
        try:
            if not (request.uri or "").startswith(reverse("smart:token")):
                raise ClientAssertionError("assertions are taken at the token endpoint only")
            registration = assertion_client(assertion=request.client_assertion, token_endpoint=token_endpoint)
        except ClientAssertionError as refused:
            log.info("client assertion refused: %s", refused)
            return False
        request.client = registration.application
        request.client_id = registration.application.client_id
        return True

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        registration = _registration(client)
        if registration is None:
            return False
        try:
            requested = grant_of(" ".join(scopes))
        except ScopeError:
            return False
        if getattr(request, "grant_type", None) == "client_credentials" and any(
            scope.context is not ScopeContext.SYSTEM for scope in requested.resources
        ):
            return False  # no user and no patient: a client acting alone has system scopes only
        return grant_of(registration.scopes).covers(requested)

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        registration = _registration(request.client)
        return registration.scopes.split() if registration else []

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """A code is made only after the person approved on the consent screen (consent.smart.authorize); the
        approval is recorded with it, so nothing is recorded for a request that failed validation."""
        choice = getattr(request, "launch_choice", None)
        if choice is None:
            raise errors.AccessDeniedError(request=request)
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        grant = Grant.objects.get(code=code["code"])
        app_authorisation_grant(grant=grant, choice=choice, scope=" ".join(request.scopes))

    def _save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> None:
        """Tokens under an authorisation end with it at the latest, get a refresh token only with offline_access,
        name the patient they are pinned to, and are linked to it so each request knows whom it acts for."""
        authorisation = self._authorisation_of(request)
        if authorisation is not None:
            if not grant_of(token["scope"]).offline:
                token.pop("refresh_token", None)
            remaining = (authorisation.expires_at - timezone.now()) // timedelta(seconds=1)
            token["expires_in"] = max(1, min(int(token["expires_in"]), remaining))
            if authorisation.patient:
                token["patient"] = authorisation.patient.removeprefix("Patient/")
        super()._save_bearer_token(token, request, *args, **kwargs)
        if authorisation is not None:
            AuthorisedToken.objects.create(
                authorisation_id=authorisation.id,
                access_token=AccessToken.objects.get(token_checksum=_checksum(token["access_token"])),
                refresh_token=(
                    RefreshToken.objects.filter(
                        token_checksum=_checksum(token["refresh_token"]), revoked__isnull=True
                    ).first()
                    if "refresh_token" in token
                    else None
                ),
            )

    def _authorisation_of(self, request: Any) -> AppAuthorisation | IssuedUnder | None:
        if request.grant_type == "authorization_code":
            return AppAuthorisation.objects.select_related("registration").filter(grant__code=request.code).first()
        if request.grant_type == "refresh_token":
            return token_authorisation(refresh_token=request.refresh_token_instance)
        return None

    def validate_refresh_token(self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        """A refresh token lives no longer than its authorisation: revoked or expired, it refreshes nothing."""
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        authorisation = token_authorisation(refresh_token=request.refresh_token_instance)
        return authorisation is not None and authorisation_holds(authorisation)

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        """A token issued for a signed-in account is good only while its authorisation holds."""
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if request.access_token.user_id is None:
            return True  # a client's own token (client_credentials)
        authorisation = access_token_authorisation(request.access_token)
        return authorisation is not None and authorisation_holds(authorisation)


def _token_endpoint(headers: dict[str, str]) -> str:
    """The token endpoint's public URL, which a client assertion must name as its audience: under FHIR_BASE_URL's
    origin when set (behind a proxy), else under the request's host if it is one of ALLOWED_HOSTS."""
    configured = urlsplit(getattr(settings, "FHIR_BASE_URL", "") or "")
    if configured.scheme and configured.netloc:
        return f"{configured.scheme}://{configured.netloc}{reverse('smart:token')}"
    scheme = "https" if headers.get("X_DJANGO_OAUTH_TOOLKIT_SECURE") else "http"
    host = headers.get("HTTP_HOST") or _server_host(headers, scheme)
    if not validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
        return ""
    return f"{scheme}://{host}{reverse('smart:token')}"


def _server_host(headers: dict[str, str], scheme: str) -> str:
    """The host as Django's request.get_host() reads it when no Host header came."""
    name, port = headers.get("SERVER_NAME", ""), str(headers.get("SERVER_PORT", ""))
    return name if port in ("", {"http": "80", "https": "443"}[scheme]) else f"{name}:{port}"


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _registration(application: Any) -> ClientRegistration | None:
    return ClientRegistration.objects.filter(application=application).first() if application else None
