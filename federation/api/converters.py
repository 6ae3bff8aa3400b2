"""URL converters for FHIR paths: a resource type name and a logical id."""

from __future__ import annotations


class ResourceTypeConverter:
    """A type the store serves: AuditEvent has routes of its own (the audit trail), so no store route takes it."""

    regex = "(?!AuditEvent(?![A-Za-z]))[A-Z][A-Za-z]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class LogicalIdConverter(ResourceTypeConverter):
    regex = "[^/]+"
