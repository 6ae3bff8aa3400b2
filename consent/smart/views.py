"""/.well-known/smart-configuration: what this authorisation server does, as SMART App Launch 2 describes it.
Only what is built is listed; each capability arrives here with its code."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

GRANT_TYPES = ["authorization_code", "client_credentials", "refresh_token"]
CAPABILITIES = [
    "launch-standalone",
    "context-standalone-patient",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "permission-offline",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
]
SCOPES = [
    "patient/*.rs", "patient/*.read", "user/*.rs", "user/*.cruds", "user/*.read", "user/*.write",
    "system/*.rs", "system/*.cruds", "system/*.read", "system/*.write", "system/*.*",
    "launch/patient", "offline_access",
]  # fmt: skip


def smart_configuration(request: HttpRequest) -> JsonResponse:
    def absolute(name: str) -> str:
        return request.build_absolute_uri(reverse(name))

    return JsonResponse(
        {
            "issuer": request.build_absolute_uri("/"),
            "authorization_endpoint": absolute("smart:authorize"),
            "token_endpoint": absolute("smart:token"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "grant_types_supported": GRANT_TYPES,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "revocation_endpoint": absolute("smart:revoke"),
            "introspection_endpoint": absolute("smart:introspect"),
            "scopes_supported": SCOPES,
            "capabilities": CAPABILITIES,
        }
    )
