"""URL converters for FHIR paths: a resource type name and a logical id."""

from __future__ import annotations

from federation.fhir.spec import TRAIL_TYPES


class ResourceTypeConverter:
    """A type the store serves: the audit trail's types have routes of their own, so no store route takes them."""

    regex = f"(?!(?:{'|'.join(sorted(TRAIL_TYPES))})(?![A-Za-z]))[A-Z][A-Za-z]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class LogicalIdConverter(ResourceTypeConverter):
    regex = "[^/]+"
