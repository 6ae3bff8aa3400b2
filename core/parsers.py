"""FHIR JSON request parsing with a size limit and a precise error for malformed JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.parsers import BaseParser

from core import fhir_json
from core.outcome import invalid


class FhirJsonParser(BaseParser):
    media_type = "application/fhir+json"

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            raise invalid("The request body is empty; a FHIR JSON resource was expected.")
        try:
            return fhir_json.loads(raw)
        except UnicodeDecodeError as error:
            raise invalid(f"The request body is not UTF-8: {error.reason} at byte {error.start}.") from error
        except json.JSONDecodeError as error:
            raise invalid(f"Malformed JSON: {error.msg} at line {error.lineno}, column {error.colno}.") from error
        except ValueError as error:
            raise invalid(f"Malformed JSON: {error}.") from error


class PlainJsonParser(FhirJsonParser):
    media_type = "application/json"
