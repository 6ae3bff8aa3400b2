"""Content negotiation for FHIR: `_format` overrides Accept; only JSON is served."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

JSON_FORMATS = {
    "json": "application/fhir+json",
    "application/fhir+json": "application/fhir+json",
    "application/json+fhir": "application/fhir+json",
    "application/json": "application/json",
}


class FhirContentNegotiation(BaseContentNegotiation):
    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        content_type = request.content_type.split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        wanted = self._wanted_media_type(request)
        available = list(renderers)
        for renderer in available:
            if renderer.media_type == wanted:
                return renderer, renderer.media_type
        return available[0], available[0].media_type

    def _wanted_media_type(self, request: Request) -> str:
        requested_format = request.query_params.get("_format")
        if requested_format:
            media_type = JSON_FORMATS.get(requested_format.split(";")[0].strip().lower())
            if media_type is None:
                raise NotAcceptable(f"_format={requested_format} is not supported; this server speaks JSON only.")
            return media_type
        accept = request.META.get("HTTP_ACCEPT", "")
        ranges = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
        if not ranges:
            return "application/fhir+json"
        for media_range in ranges:
            if media_range in JSON_FORMATS.values() or media_range == "application/json+fhir":
                return JSON_FORMATS[media_range]
            if media_range in ("*/*", "application/*"):
                return "application/fhir+json"
        raise NotAcceptable(f"Cannot answer in {accept}; this server speaks application/fhir+json only.")
