"""Index extraction: evaluate every search parameter of a resource's type into index rows.

Called by the write service for each version it stores (the one write path), and by reindex.
Rows are collected in an IndexBatch so a transaction of many resources writes each table once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from federation.models import (
    DateIndex,
    NumberIndex,
    QuantityIndex,
    ReferenceIndex,
    Resource,
    SearchIndex,
    StringIndex,
    TokenIndex,
    UriIndex,
)
from federation.search import values
from federation.search.fhirpath import (
    Evaluator,
    RelativeEvaluator,
    TypedValue,
    compile_expression,
    compile_relative,
)
from federation.search.registry import COLUMN_PARAMETERS, SearchParameter, index_key, parameter_by_url, parameters_for

# Each table's value columns, in the order the row builders below produce them.
COLUMNS: dict[type[SearchIndex], tuple[str, ...]] = {
    TokenIndex: ("system", "code", "system_code"),
    StringIndex: ("normalized", "exact"),
    DateIndex: ("low", "high"),
    NumberIndex: ("value",),
    QuantityIndex: ("value", "system_code", "code", "unit"),
    ReferenceIndex: ("target_type", "target_id", "url"),
    UriIndex: ("uri",),
}
INDEX_MODELS = tuple(COLUMNS)
Row = tuple[Any, ...]


@dataclass
class IndexBatch:
    """Index changes waiting to be written: rows per table, and resources whose old rows go first."""

    rows: dict[type[SearchIndex], list[Row]] = field(default_factory=lambda: {model: [] for model in INDEX_MODELS})
    cleared: list[int] = field(default_factory=list)

    def replace(self, resource: Resource, *, is_new: bool) -> None:
        """Index the resource's current content (nothing when deleted), dropping its old rows."""
        if not is_new:
            self.cleared.append(resource.pk)
        if resource.content is None:
            return
        for plan in extraction_plan(resource.resource_type):
            plan.index(self, resource.pk, resource.content)

    def write(self) -> None:
        if self.cleared:
            _delete_rows(self.cleared)
            self.cleared = []
        with connection.cursor() as cursor:
            for model, rows in self.rows.items():
                if rows:
                    _copy(cursor.cursor, model, rows)
                    rows.clear()


_pending: ContextVar[IndexBatch | None] = ContextVar("pending_index_batch", default=None)


def index_resource(resource: Resource, *, is_new: bool) -> None:
    """Index one written version: now, or at the end of the enclosing `deferred_indexing()`."""
    batch = _pending.get()
    if batch is not None:
        batch.replace(resource, is_new=is_new)
        return
    batch = IndexBatch()
    batch.replace(resource, is_new=is_new)
    batch.write()


@contextmanager
def deferred_indexing() -> Iterator[None]:
    """Collect the index rows of many writes and write each table once (e.g. a transaction Bundle).

    Use inside the database transaction of those writes, so rows and resources commit together.
    """
    batch = IndexBatch()
    token = _pending.set(batch)
    try:
        yield
        batch.write()
    finally:
        _pending.reset(token)


def _copy(cursor: Any, model: type[SearchIndex], rows: list[Row]) -> None:
    """COPY is the fast way in: rows go as one stream, not one INSERT parameter set each."""
    columns = ", ".join(f'"{name}"' for name in ("resource_id", "param", "group", *COLUMNS[model]))
    with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _delete_rows(resource_ids: list[int]) -> None:
    """One statement clears every index table for these resources."""
    # Table names come from our own models, never from input.
    statements = [
        f"d{number} AS (DELETE FROM {model._meta.db_table} WHERE resource_id = ANY(%(ids)s))"  # noqa: S608
        for number, model in enumerate(INDEX_MODELS)
    ]
    with connection.cursor() as cursor:
        cursor.execute("WITH " + ", ".join(statements) + " SELECT 1", {"ids": resource_ids})


@dataclass(frozen=True)
class ParameterPlan:
    """How one parameter of one type is extracted and stored."""

    parameter: SearchParameter
    param: int
    extract: Evaluator | None = None  # a parameter's expression, from the resource
    relative: RelativeEvaluator | None = None  # a composite component's, from the composite's value
    components: tuple[ParameterPlan, ...] = ()

    @property
    def is_component(self) -> bool:
        """Parts of a composite store their value only, no :text, :of-type or :identifier rows."""
        return self.relative is not None

    def index(self, batch: IndexBatch, resource_id: int, content: dict[str, Any]) -> None:
        assert self.extract is not None
        found = self.extract(content)
        if self.parameter.type != "composite":
            self.add_rows(batch, resource_id, found, group=None)
            return
        for group, item in enumerate(found):
            for component in self.components:
                assert component.relative is not None
                component.add_rows(batch, resource_id, component.relative(item.value, item.type, content), group)

    def add_rows(self, batch: IndexBatch, resource_id: int, found: list[TypedValue], group: int | None) -> None:
        for item in found:
            _ROW_BUILDERS[self.parameter.type](batch, self, resource_id, item, group)


def _token_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    tokens = batch.rows[TokenIndex]
    for key in values.tokens(item.type, item.value):
        tokens.append((resource_id, plan.param, group, key.system, key.code, key.system_code))
    if plan.is_component:
        return
    of_type = index_key(plan.parameter, ":of-type")
    for key in values.identifier_types(item.type, item.value):
        tokens.append((resource_id, of_type, group, key.system, key.code, key.system_code))
    text_param = index_key(plan.parameter, ":text")
    for text in values.token_texts(item.type, item.value):
        text_key = values.string_key(text)
        batch.rows[StringIndex].append((resource_id, text_param, group, text_key.normalized, text_key.exact))


def _string_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for key in values.strings(item.type, item.value):
        batch.rows[StringIndex].append((resource_id, plan.param, group, key.normalized, key.exact))


def _date_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for low, high in values.dates(item.type, item.value):
        batch.rows[DateIndex].append((resource_id, plan.param, group, low, high))


def _number_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for number in values.numbers(item.type, item.value):
        batch.rows[NumberIndex].append((resource_id, plan.param, group, number))


def _quantity_rows(
    batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None
) -> None:
    for key in values.quantities(item.type, item.value):
        batch.rows[QuantityIndex].append(
            (resource_id, plan.param, group, key.value, key.system_code, key.code, key.unit)
        )


def _reference_rows(
    batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None
) -> None:
    for key in values.references(item.type, item.value):
        batch.rows[ReferenceIndex].append((resource_id, plan.param, group, key.target_type, key.target_id, key.url))
    if plan.is_component:
        return
    identifier = index_key(plan.parameter, ":identifier")
    for token in values.reference_identifiers(item.type, item.value):
        batch.rows[TokenIndex].append((resource_id, identifier, group, token.system, token.code, token.system_code))


def _uri_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for uri in values.uris(item.type, item.value):
        batch.rows[UriIndex].append((resource_id, plan.param, group, uri))


_ROW_BUILDERS: dict[str, Callable[[IndexBatch, ParameterPlan, int, TypedValue, int | None], None]] = {
    "token": _token_rows,
    "string": _string_rows,
    "date": _date_rows,
    "number": _number_rows,
    "quantity": _quantity_rows,
    "reference": _reference_rows,
    "uri": _uri_rows,
}


_plans: dict[str, tuple[dict[str, SearchParameter], tuple[ParameterPlan, ...]]] = {}


def extraction_plan(resource_type: str) -> tuple[ParameterPlan, ...]:
    """Every parameter of the type with its compiled expression (composites with their parts).

    Rebuilt when the registry is (stored definitions changed); reused otherwise.
    """
    parameters = parameters_for(resource_type, for_indexing=True)
    cached = _plans.get(resource_type)
    if cached is not None and cached[0] is parameters:
        return cached[1]
    plans = _build_plans(parameters)
    _plans[resource_type] = (parameters, plans)
    return plans


def _build_plans(parameters: dict[str, SearchParameter]) -> tuple[ParameterPlan, ...]:
    plans = []
    for parameter in parameters.values():
        if parameter.code in COLUMN_PARAMETERS:
            continue
        plan = ParameterPlan(
            parameter=parameter,
            extract=compile_expression(parameter.expression, parameter.resource_type),
            param=index_key(parameter),
            components=_component_plans(parameter) if parameter.type == "composite" else (),
        )
        plans.append(plan)
    return tuple(plans)


def _component_plans(parameter: SearchParameter) -> tuple[ParameterPlan, ...]:
    """A composite's parts are stored under `code$n` keys, grouped per composite value."""
    parts = []
    for number, component in enumerate(parameter.components):
        definition = parameter_by_url(component.definition, parameter.resource_type)
        if definition is None:
            return ()
        parts.append(
            ParameterPlan(
                parameter=definition,
                param=index_key(parameter, f"${number}"),
                relative=compile_relative(component.expression),
            )
        )
    return tuple(parts)
