"""The access context every read and write of health data carries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AccessKind(Enum):
    """Who is acting. Only the platform itself exists until login and SMART scopes land."""

    SYSTEM = "system"


@dataclass(frozen=True)
class AccessContext:
    """Who is acting and why; federation selectors narrow their SQL by it via consent.facade."""

    kind: AccessKind
    purpose: str

    @classmethod
    def system(cls, purpose: str) -> AccessContext:
        """The platform acting on its own behalf (ingest, the open FHIR API before authorisation)."""
        return cls(kind=AccessKind.SYSTEM, purpose=purpose)
