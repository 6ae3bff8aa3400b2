"""Where a stored row's content places it for consent: the Patients it belongs to and the dates of its data.

Kept on the row itself (Resource.owners, Resource.data_period), derived from the index rows the write paths
extract anyway, so consent's filter compares two columns instead of probing the index tables for every row
(docs/decisions.md, "Placement columns").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from federation.models import DateIndex, ReferenceIndex
from federation.search.compartments import DATA_DATE, compartment_keys, compartment_parameters
from federation.search.indexing import IndexRows
from federation.search.registry import index_key, parameters_for


@dataclass(slots=True)
class Placement:
    """`owners`: the Patient ids the row belongs to (a Patient itself; None for a type outside the Patient
    compartment, [] for a deletion or a row naming no Patient); `data_period`: its data dates as a PostgreSQL
    tstzmultirange literal, None when it has none."""

    owners: list[str] | None
    data_period: str | None


def placement_of(resource_type: str, logical_id: str, found: IndexRows | None) -> Placement:
    """The placement of a row whose current content has the index rows `found` (None: deleted)."""
    if resource_type not in compartment_parameters("Patient"):
        return Placement(None, None)
    if found is None:
        return Placement([], None)
    if resource_type == "Patient":
        return Placement([logical_id], _period(found, date_key_of(resource_type)))
    keys = owner_keys_of(resource_type)
    owners = {row[3] for row in found[ReferenceIndex] if row[0] in keys and row[2] == "Patient" and row[3]}
    return Placement(sorted(owners), _period(found, date_key_of(resource_type)))


@cache
def owner_keys_of(resource_type: str) -> frozenset[int]:
    return frozenset(compartment_keys("Patient", resource_type))


@cache
def date_key_of(resource_type: str) -> int | None:
    dated = parameters_for(resource_type).get(DATA_DATE)
    return index_key(dated) if dated is not None and dated.type == "date" else None


def _period(found: IndexRows, key: int | None) -> str | None:
    """The multirange of the row's `date` values, each closed at both ends (an open end is unbounded)."""
    if key is None:
        return None
    ranges = [_range(row[2], row[3]) for row in found[DateIndex] if row[0] == key]
    return "{" + ",".join(ranges) + "}" if ranges else None


def _range(low: datetime | None, high: datetime | None) -> str:
    return ("[" + low.isoformat() if low else "(") + "," + (high.isoformat() + "]" if high else ")")
