"""django-oauth-toolkit's request validator, taught SMART: scopes are checked against what the app was
registered for, and backend clients authenticate with a signed assertion instead of a secret."""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from oauth2_provider.models import AccessToken
from oauth2_provider.oauth2_validators import OAuth2Validator

from consent.models import ClientKind, ClientRegistration
from consent.scopes import ScopeContext, ScopeError, grant_of
from consent.smart.assertions import ASSERTION_TYPE, ClientAssertionError, assertion_client

log = logging.getLogger(__name__)


class SmartValidator(OAuth2Validator):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    def _load_access_token(self, token: str) -> AccessToken | None:
        """The token as django-oauth-toolkit loads it, with the side it acts on (TokenAccess) in the same query."""
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        found: AccessToken | None = (
            AccessToken.objects.select_related("application", "user", "access").filter(token_checksum=checksum).first()
        )
        return found

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


def _registration(application: Any) -> ClientRegistration | None:
    return ClientRegistration.objects.filter(application=application).first() if application else None
