"""FHIR JSON renderers: application/fhir+json (default) and application/json, honouring _pretty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from core import fhir_json


class FhirJsonRenderer(BaseRenderer):
    media_type = "application/fhir+json"
    format = "json"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        request = (renderer_context or {}).get("request")
        pretty = request is not None and request.query_params.get("_pretty", "").lower() == "true"
        return fhir_json.dumps(data, pretty=pretty).encode()


class PlainJsonRenderer(FhirJsonRenderer):
    """The same body labelled application/json, for clients that ask for it."""

    media_type = "application/json"
