"""_sort and keyset paging: the sort keys of a search, and the page tokens that continue it.

Each sort key is a correlated subquery over the parameter's index table (the smallest value for an
ascending key, the largest for a descending one); the resource's row id breaks ties. A page token
carries the keys of the row the page ended (or began) at, so the next page starts exactly after it,
however many rows were written in between, and nothing is ever skipped with OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import OrderBy

from core import page_tokens
from core.outcome import invalid
from federation.models import (
    DateIndex,
    NumberIndex,
    QuantityIndex,
    ReferenceIndex,
    Resource,
    SearchIndex,
    StringIndex,
    UriIndex,
)
from federation.search.meta_parameters import META_PARAMETERS, meta_sort_key
from federation.search.query import SortKey
from federation.search.registry import index_keys, narrowed_rows

# Which column of which table orders a parameter of each type.
SORT_COLUMNS: dict[str, tuple[type[SearchIndex], str, str]] = {
    # parameter type -> (table, column ascending takes the min of, column descending takes the max of)
    "string": (StringIndex, "normalized", "normalized"),
    "date": (DateIndex, "low", "high"),
    "number": (NumberIndex, "value", "value"),
    "quantity": (QuantityIndex, "value", "value"),
    "reference": (ReferenceIndex, "target_id", "target_id"),
    "uri": (UriIndex, "uri", "uri"),
}


@dataclass(frozen=True)
class Ordering:
    """The sort of one search: annotation names, directions, and how to read their values back."""

    names: tuple[str, ...]
    descending: tuple[bool, ...]
    is_date: tuple[bool, ...]


def apply_sort(rows: QuerySet[Resource], keys: list[SortKey]) -> tuple[QuerySet[Resource], Ordering]:
    names, descending, is_date = [], [], []
    for number, sort_key in enumerate(keys):
        name = f"sort_{number}"
        rows = rows.annotate(**{name: _sort_expression(sort_key)})
        names.append(name)
        descending.append(sort_key.descending)
        is_date.append(sort_key.parameter.type == "date" or sort_key.parameter.code == "_lastUpdated")
    return rows, Ordering(tuple(names), tuple(descending), tuple(is_date))


def _sort_expression(sort_key: SortKey) -> Any:
    parameter = sort_key.parameter
    if parameter.code == "_id":
        return F("logical_id")
    if parameter.code == "_lastUpdated":
        return F("last_updated")
    if parameter.code in META_PARAMETERS:
        return meta_sort_key(parameter.code, descending=sort_key.descending)
    if parameter.type not in SORT_COLUMNS:
        raise invalid(f"_sort: '{parameter.code}' ({parameter.type}) cannot be sorted on.")
    table, ascending_column, descending_column = SORT_COLUMNS[parameter.type]
    column = descending_column if sort_key.descending else ascending_column
    aggregate = Max(column) if sort_key.descending else Min(column)
    values = (
        table._default_manager.filter(resource=OuterRef("pk"), param__in=index_keys(parameter))
        .filter(**narrowed_rows(parameter))
        .values("resource")
        .annotate(key=aggregate)
        .values("key")
    )
    return Subquery(values[:1])


def order_by(ordering: Ordering, *, backwards: bool) -> list[OrderBy]:
    """Sort keys (nulls last whichever way), then the row id; all flipped to page backwards."""
    clauses = []
    for name, descending in zip(ordering.names, ordering.descending, strict=True):
        down = descending != backwards
        nulls = {"nulls_first": True} if backwards else {"nulls_last": True}
        clauses.append(F(name).desc(**nulls) if down else F(name).asc(**nulls))
    clauses.append(F("pk").desc() if backwards else F("pk").asc())
    return clauses


def after(ordering: Ordering, keys: list[Any], pk: int, *, backwards: bool) -> Q:
    """Rows strictly after (or, backwards, before) the row with these keys, in the search's order."""
    condition = Q(pk__lt=pk) if backwards else Q(pk__gt=pk)
    for name, descending, value in reversed(list(zip(ordering.names, ordering.descending, keys, strict=True))):
        later = _later(name, value, down=descending != backwards, nulls_later=not backwards)
        same = Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
        condition = later | (same & condition)
    return condition


def _later(name: str, value: Any, *, down: bool, nulls_later: bool) -> Q:
    if value is None:
        # Past a null key only nulls remain when nulls come last; all non-nulls when they come first.
        return Q(pk__in=[]) if nulls_later else Q(**{f"{name}__isnull": False})
    beyond = Q(**{f"{name}__lt" if down else f"{name}__gt": value})
    return beyond | Q(**{f"{name}__isnull": True}) if nulls_later else beyond


def encode_token(ordering: Ordering, row: Resource, *, backwards: bool) -> str:
    keys = [_plain(getattr(row, name)) for name in ordering.names]
    return page_tokens.encode({"k": keys, "id": row.pk, "b": backwards})


def decode_token(ordering: Ordering, token: str) -> tuple[list[Any], int, bool]:
    def read(payload: Any) -> tuple[list[Any], int, bool]:
        keys = [
            datetime.fromisoformat(value) if is_date and value is not None else value
            for value, is_date in zip(payload["k"], ordering.is_date, strict=True)
        ]
        return keys, int(payload["id"]), bool(payload["b"])

    try:
        return page_tokens.decode(token, read)
    except page_tokens.ForeignPageTokenError as error:
        raise invalid("The page token is not one this server issued for this search.") from error


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
