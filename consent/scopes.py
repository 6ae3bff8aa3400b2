"""SMART on FHIR scopes, v1 and v2, read into one form: who the data is about, which types, which interactions.

v1 writes `patient/Observation.read` (read and search), `.write` (create, update, delete) or `.*`; v2 writes the
interactions as letters in the order c r u d s (`patient/Observation.rs`) and may narrow a scope with search
parameters (`patient/Observation.rs?category=laboratory`). Both read to a ResourceScope; the rest of a grant
(`launch/patient`, `offline_access`, `openid`, `fhirUser`) is kept as it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl


class ScopeContext(StrEnum):
    PATIENT = "patient"  # the data of the person the token is pinned to
    USER = "user"  # what the signed-in user may see
    SYSTEM = "system"  # what the client itself may see (backend services)


class Interaction(StrEnum):
    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


V1_INTERACTIONS = {
    "read": frozenset({Interaction.READ, Interaction.SEARCH}),
    "write": frozenset({Interaction.CREATE, Interaction.UPDATE, Interaction.DELETE}),
    "*": frozenset(Interaction),
}
V2_ORDER = "cruds"
_RESOURCE_SCOPE = re.compile(r"(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)(?:\?(.+))?")


class ScopeError(ValueError):
    """A scope that is neither SMART v1 nor v2; the message names it."""


@dataclass(frozen=True)
class ResourceScope:
    """One resource scope: `resource_type` None means every type; `narrowed_by` holds v2 search parameters."""

    context: ScopeContext
    resource_type: str | None
    interactions: frozenset[Interaction]
    narrowed_by: tuple[tuple[str, str], ...] = ()

    def allows(self, context: ScopeContext, resource_type: str, interaction: Interaction) -> bool:
        return (
            self.context is context and self.resource_type in (None, resource_type) and interaction in self.interactions
        )


def resource_scope(text: str) -> ResourceScope | None:
    """The ResourceScope a scope string stands for; None for a scope that is not about resources."""
    match = _RESOURCE_SCOPE.fullmatch(text)
    if match is None:
        if "/" in text and text.split("/")[0] in ScopeContext.__members__.values():
            raise ScopeError(f"'{text}' is not a SMART resource scope (context/Type.permissions)")
        return None
    context, resource_type, permissions, query = match.groups()
    interactions = V1_INTERACTIONS.get(permissions) if query is None else None
    if interactions is None:
        interactions = _v2_interactions(text, permissions)
    narrowed = tuple(parse_qsl(query, keep_blank_values=True)) if query else ()
    return ResourceScope(ScopeContext(context), None if resource_type == "*" else resource_type, interactions, narrowed)


def _v2_interactions(text: str, letters: str) -> frozenset[Interaction]:
    """v2 letters must be a non-empty subsequence of c r u d s, each at most once and in that order."""
    position = 0
    for letter in letters:
        found = V2_ORDER.find(letter, position)
        if found < 0:
            raise ScopeError(f"'{text}': permissions must be letters of 'cruds' in that order, or v1 read/write/*")
        position = found + 1
    return frozenset(Interaction(letter) for letter in letters)


@dataclass(frozen=True)
class Grant:
    """What a token's scope string allows."""

    resources: tuple[ResourceScope, ...]
    others: frozenset[str]

    def allows(self, context: ScopeContext, resource_type: str, interaction: Interaction) -> bool:
        return any(scope.allows(context, resource_type, interaction) for scope in self.resources)

    def narrowing(
        self, context: ScopeContext, resource_type: str, interaction: Interaction
    ) -> list[tuple[tuple[str, str], ...]] | None:
        """The v2 search parameters that limit `interaction` on `resource_type` (any one suffices), or None
        when some scope allows it without limits."""
        limits = []
        for scope in self.resources:
            if scope.allows(context, resource_type, interaction):
                if not scope.narrowed_by:
                    return None
                limits.append(scope.narrowed_by)
        return limits

    def covers(self, requested: Grant) -> bool:
        """Whether every scope of `requested` lies within this grant (what an app asks for within what it
        was registered for): same context, same or wildcard type, no more interactions, no wider query."""
        return requested.others <= self.others and all(
            any(
                mine.context is wanted.context
                and mine.resource_type in (None, wanted.resource_type)
                and wanted.interactions <= mine.interactions
                and (not mine.narrowed_by or mine.narrowed_by == wanted.narrowed_by)
                for mine in self.resources
            )
            for wanted in requested.resources
        )

    @property
    def offline(self) -> bool:
        return "offline_access" in self.others


def grant_of(scope: str) -> Grant:
    """Read a space-separated scope string; raises ScopeError on a malformed resource scope."""
    resources, others = [], set()
    for text in scope.split():
        parsed = resource_scope(text)
        if parsed is None:
            others.add(text)
        else:
            resources.append(parsed)
    return Grant(tuple(resources), frozenset(others))
