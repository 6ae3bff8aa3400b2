"""The access context every read and write of health data carries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AccessKind(Enum):
    """Who is acting. So far only system contexts: the platform itself, or a client with system scopes."""

    SYSTEM = "system"


@dataclass(frozen=True)
class AccessContext:
    """Who is acting and why; federation selectors narrow their SQL by it via consent.facade."""

    kind: AccessKind
    purpose: str
    client_id: str | None = None  # the app acting, when a request came with a token
    scope: str = ""  # the token's SMART scopes

    @classmethod
    def system(cls, purpose: str) -> AccessContext:
        """The platform acting on its own behalf (ingest, identity linking, commands)."""
        return cls(kind=AccessKind.SYSTEM, purpose=purpose)
