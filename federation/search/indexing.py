"""Index extraction: evaluate every search parameter of a resource's type into index rows.

Called by the write service for each version it stores (the one write path), and by reindex.
Rows are collected in an IndexBatch so a transaction of many resources writes each table once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
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

INDEX_MODELS: tuple[type[SearchIndex], ...] = (
    TokenIndex,
    StringIndex,
    DateIndex,
    NumberIndex,
    QuantityIndex,
    ReferenceIndex,
    UriIndex,
)


@dataclass
class IndexBatch:
    """Index changes waiting to be written: rows per table, and resources whose old rows go first."""

    rows: dict[type[SearchIndex], list[Any]] = field(default_factory=lambda: {model: [] for model in INDEX_MODELS})
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
        for model, rows in self.rows.items():
            if rows:
                model._default_manager.bulk_create(rows, batch_size=5000)
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
    for key in values.tokens(item.type, item.value):
        batch.rows[TokenIndex].append(_token(resource_id, plan.param, key, group))
    if plan.is_component:
        return
    for key in values.identifier_types(item.type, item.value):
        batch.rows[TokenIndex].append(_token(resource_id, index_key(plan.parameter, ":of-type"), key, group))
    for text in values.token_texts(item.type, item.value):
        text_key = values.string_key(text)
        batch.rows[StringIndex].append(
            StringIndex(
                resource_id=resource_id,
                param=index_key(plan.parameter, ":text"),
                group=group,
                normalized=text_key.normalized,
                exact=text_key.exact,
            )
        )


def _token(resource_id: int, param: int, key: values.TokenKey, group: int | None) -> TokenIndex:
    return TokenIndex(
        resource_id=resource_id,
        param=param,
        group=group,
        system=key.system,
        code=key.code,
        system_code=key.system_code,
    )


def _string_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for key in values.strings(item.type, item.value):
        batch.rows[StringIndex].append(
            StringIndex(
                resource_id=resource_id, param=plan.param, group=group, normalized=key.normalized, exact=key.exact
            )
        )


def _date_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for low, high in values.dates(item.type, item.value):
        batch.rows[DateIndex].append(
            DateIndex(resource_id=resource_id, param=plan.param, group=group, low=low, high=high)
        )


def _number_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for number in values.numbers(item.type, item.value):
        batch.rows[NumberIndex].append(
            NumberIndex(resource_id=resource_id, param=plan.param, group=group, value=number)
        )


def _quantity_rows(
    batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None
) -> None:
    for key in values.quantities(item.type, item.value):
        batch.rows[QuantityIndex].append(
            QuantityIndex(
                resource_id=resource_id,
                param=plan.param,
                group=group,
                value=key.value,
                system_code=key.system_code,
                code=key.code,
                unit=key.unit,
            )
        )


def _reference_rows(
    batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None
) -> None:
    for key in values.references(item.type, item.value):
        batch.rows[ReferenceIndex].append(
            ReferenceIndex(
                resource_id=resource_id,
                param=plan.param,
                group=group,
                target_type=key.target_type,
                target_id=key.target_id,
                url=key.url,
            )
        )
    if plan.is_component:
        return
    for token in values.reference_identifiers(item.type, item.value):
        batch.rows[TokenIndex].append(_token(resource_id, index_key(plan.parameter, ":identifier"), token, group))


def _uri_rows(batch: IndexBatch, plan: ParameterPlan, resource_id: int, item: TypedValue, group: int | None) -> None:
    for uri in values.uris(item.type, item.value):
        batch.rows[UriIndex].append(UriIndex(resource_id=resource_id, param=plan.param, group=group, uri=uri))


_ROW_BUILDERS: dict[str, Callable[[IndexBatch, ParameterPlan, int, TypedValue, int | None], None]] = {
    "token": _token_rows,
    "string": _string_rows,
    "date": _date_rows,
    "number": _number_rows,
    "quantity": _quantity_rows,
    "reference": _reference_rows,
    "uri": _uri_rows,
}


@cache
def extraction_plan(resource_type: str) -> tuple[ParameterPlan, ...]:
    """Every parameter of the type with its compiled expression (composites with their parts)."""
    plans = []
    for parameter in parameters_for(resource_type).values():
        if parameter.code in COLUMN_PARAMETERS:
            continue
        plan = ParameterPlan(
            parameter=parameter,
            extract=compile_expression(parameter.expression, resource_type),
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
