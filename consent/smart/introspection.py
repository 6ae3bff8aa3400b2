"""/auth/introspect: django-oauth-toolkit's answer, with SMART's launch context: a token under an app
authorisation is active only while the authorisation holds, and names the patient it is pinned to."""

from __future__ import annotations

import hashlib
import json

from django.http import JsonResponse
from oauth2_provider.models import AccessToken
from oauth2_provider.views import IntrospectTokenView

from consent.smart.tokens import authorisation_holds, token_authorisation


class SmartIntrospectTokenView(IntrospectTokenView):  # type: ignore[misc]  # django-oauth-toolkit has no type hints
    @staticmethod
    def get_token_response(token_value: str | None = None) -> JsonResponse:
        response: JsonResponse = IntrospectTokenView.get_token_response(token_value)
        answer = json.loads(response.content)
        if not answer.get("active") or token_value is None:
            return response
        token = AccessToken.objects.get(token_checksum=hashlib.sha256(token_value.encode("utf-8")).hexdigest())
        if token.user_id is None:
            return response  # a client's own token
        authorisation = token_authorisation(access_token=token)
        if authorisation is None or not authorisation_holds(authorisation):
            return JsonResponse({"active": False})
        if authorisation.patient:
            answer["patient"] = authorisation.patient.removeprefix("Patient/")
        return JsonResponse(answer)
