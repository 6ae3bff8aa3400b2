"""What federation hands to other apps and to its own API layer: frozen views of stored resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredVersion:
    """One version of a resource as stored; `content` is None for a deletion."""

    resource_type: str
    logical_id: str
    version_id: int
    last_updated: datetime
    content: dict[str, Any] | None
    method: str

    @property
    def is_deletion(self) -> bool:
        return self.content is None

    @property
    def etag(self) -> str:
        return f'W/"{self.version_id}"'

    @property
    def relative_url(self) -> str:
        return f"{self.resource_type}/{self.logical_id}"

    @property
    def version_url(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version_id}"


@dataclass(frozen=True)
class WriteResult:
    """What a write did: `created` (a new resource), `changed` (a new version was stored)."""

    version: StoredVersion
    created: bool
    changed: bool


@dataclass(frozen=True)
class HistoryPage:
    """One page of history, newest first; `next_token` continues after its last entry."""

    versions: tuple[StoredVersion, ...]
    next_token: str | None


@dataclass
class IngestCounts:
    """What storing records did; `targets` are the versions written, for their Provenance, and `patients` the
    Patients whose compartments they are in, for the audit trail (None: not told, as by the one-by-one writer
    or a sum of counts; read them from the targets)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    targets: list[str] = field(default_factory=list)
    patients: set[str] | None = field(default_factory=set)

    def add(self, other: IngestCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.targets.extend(other.targets)
        self.patients = None  # a sum's are read from its targets: a big file's tally must not grow with its persons


@dataclass
class LinkCounts:
    """What identity linking did to the Patients it took: linked to a person that existed, made a new
    person (with `reviews` possible matches for a steward), refreshed a linked record, unlinked a deleted one."""

    linked: int = 0
    new_persons: int = 0
    reviews: int = 0
    refreshed: int = 0
    unlinked: int = 0
    golden_records: int = 0  # golden Patients written afterwards, once per person that changed

    @property
    def records(self) -> int:
        return self.linked + self.new_persons + self.refreshed + self.unlinked

    def add(self, other: LinkCounts) -> None:
        self.linked += other.linked
        self.new_persons += other.new_persons
        self.reviews += other.reviews
        self.refreshed += other.refreshed
        self.unlinked += other.unlinked
        self.golden_records += other.golden_records
