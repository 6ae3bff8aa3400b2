"""Index extraction: evaluate every search parameter of a resource's type into index rows.

Called by the write service for each version it stores (the one write path), and by reindex.
Rows are collected in an IndexBatch so a transaction of many resources writes each table once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection

from federation.models import (
    INDEX_TABLES,
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
from federation.search.fhirpath import GroupedEvaluator, grouped_evaluator, resource_keys
from federation.search.registry import ROW_PARAMETERS, SearchParameter, index_key, parameter_by_url, parameters_for

# Each table's value columns, in the order the row builders below produce them.
COLUMNS: dict[type[SearchIndex], tuple[str, ...]] = {
    TokenIndex: ("system", "code"),
    StringIndex: ("normalized", "exact"),
    DateIndex: ("low", "high"),
    NumberIndex: ("value",),
    QuantityIndex: ("value", "system_code", "code", "unit"),
    ReferenceIndex: ("target_type", "target_id", "url"),
    UriIndex: ("uri",),
}
INDEX_MODELS = tuple(COLUMNS)
Row = tuple[Any, ...]
IndexRows = dict[type[SearchIndex], list[Row]]  # one resource's rows per table, without its key (param first)


def index_rows(resource_type: str, content: dict[str, Any]) -> IndexRows:
    """Every index row of one resource's content. Keyless, so a writer can extract before it has the key and
    use the rows for its own reads too (the batch writer matches identifiers on them)."""
    found: IndexRows = {model: [] for model in INDEX_MODELS}
    for index in _type_plans(resource_type).reading(content):
        index(found, content)
    return found


def token_codes_with_system(found: IndexRows, param: int) -> set[tuple[int, int]]:
    """The hashed (system, code) of one parameter's token rows that have a system (TokenIndex rows: param,
    group, then COLUMNS)."""
    return {(row[2], row[3]) for row in found[TokenIndex] if row[0] == param and row[2] is not None}


@dataclass
class IndexBatch:
    """Index changes waiting to be written: each resource's rows, and resources whose old rows go first.

    A resource's rows are kept as `index_rows` gave them and get its id only as they are written, so a row
    is built once, not copied into a table-wide list first.
    """

    found: list[tuple[int, IndexRows]] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)

    def replace(self, resource: Resource, *, is_new: bool) -> None:
        """Index the resource's current content (nothing when deleted), dropping its old rows."""
        content = resource.content
        found = None if content is None else index_rows(resource.resource_type, content)
        self.add(resource.pk, found, is_new=is_new)

    def add(self, resource_id: int, found: IndexRows | None, *, is_new: bool) -> None:
        """Rows `index_rows` extracted earlier (None: a deletion, no rows), in place of the resource's old ones."""
        if not is_new:
            self.cleared.append(resource_id)
        if found is not None:
            self.found.append((resource_id, found))

    def rows_of(self, model: type[SearchIndex]) -> Iterator[Row]:
        """The rows waiting for one table, each with its resource's id first (the table's first column)."""
        for resource_id, found in self.found:
            key = (resource_id,)
            for row in found[model]:
                yield key + row

    def write(self) -> None:
        if self.cleared:
            _delete_rows(self.cleared)
            self.cleared = []
        with connection.cursor() as cursor:
            for model in INDEX_MODELS:
                if any(found[model] for _, found in self.found):
                    _copy(cursor.cursor, model, self.rows_of(model))
        self.found = []


_pending: ContextVar[IndexBatch | None] = ContextVar("pending_index_batch", default=None)


def index_resource(resource: Resource, found: IndexRows | None, *, is_new: bool) -> None:
    """Index one written version from the rows `index_rows` extracted from it (None: deleted): now, or at the
    end of the enclosing `deferred_indexing()`."""
    batch = _pending.get()
    if batch is not None:
        batch.add(resource.pk, found, is_new=is_new)
        return
    batch = IndexBatch()
    batch.add(resource.pk, found, is_new=is_new)
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


def _copy(cursor: Any, model: type[SearchIndex], rows: Iterator[Row]) -> None:
    """COPY is the fast way in: rows go as one stream, not one INSERT parameter set each. In binary: psycopg
    writes a row in half the time it takes to write it as text (numbers and instants are not turned into
    digits), and PostgreSQL reads it no slower."""
    columns = ", ".join(f'"{name}"' for name in ("resource_id", "param", "group", *COLUMNS[model]))
    with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_column_types(model))
        write_row = copy.write_row
        for row in rows:
            write_row(row)


@functools.cache
def _column_types(model: type[SearchIndex]) -> list[str]:
    """The PostgreSQL types of the columns `_copy` writes (`varchar(64)` as `varchar`), as binary COPY needs."""
    fields = {field.column: field for field in model._meta.concrete_fields}
    columns = ("resource_id", "param", "group", *COLUMNS[model])
    return [re.sub(r"\(.*\)$", "", str(fields[column].db_type(connection))) for column in columns]


def _delete_rows(resource_ids: list[int]) -> None:
    """One statement clears every index table for these resources."""
    # Table names come from our own models, never from input.
    statements = [
        f"d{number} AS (DELETE FROM {model._meta.db_table} WHERE resource_id = ANY(%(ids)s))"  # noqa: S608
        for number, model in enumerate(INDEX_MODELS)
    ]
    with connection.cursor() as cursor:
        cursor.execute("WITH " + ", ".join(statements) + " SELECT 1", {"ids": resource_ids})


# Appends the rows of found nodes, all of one FHIR type (the type is looked at once per run of nodes).
RowBuilder = Callable[[IndexRows, str, list[Any], int | None], None]


@dataclass(frozen=True)
class ParameterPlan:
    """How one parameter of one type is extracted and stored."""

    parameter: SearchParameter
    param: int
    add: RowBuilder | None = None  # appends found nodes' rows; None for a composite (its components do)
    extract: GroupedEvaluator | None = None  # a parameter's expression, from the resource
    reads: frozenset[str] | None = None  # the resource keys `extract` starts from, if known (fhirpath.resource_keys)
    relative: str | None = None  # a composite component's expression, from the composite's value
    components: tuple[ParameterPlan, ...] = ()
    # A composite's components compiled for each type of node its expression selects, as they are met.
    _parts: dict[str, tuple[_Part, ...]] = field(default_factory=dict, compare=False, repr=False)

    def index(self, rows: IndexRows, content: dict[str, Any]) -> None:
        assert self.extract is not None
        found = self.extract([content], content)
        add = self.add
        if add is not None:
            for type_name, nodes in found:
                add(rows, type_name, nodes, None)
            return
        group = 0
        for type_name, nodes in found:
            parts = self._parts.get(type_name)
            if parts is None:
                parts = self._parts[type_name] = self._parts_on(type_name)
            for node in nodes:
                _composite_rows(rows, parts, node, content, group)
                group += 1

    def _parts_on(self, type_name: str) -> tuple[_Part, ...]:
        """Each component's expression compiled for a composite's node of this type, with its row builder."""
        parts = []
        for component in self.components:
            assert component.relative is not None
            assert component.add is not None
            table = INDEX_TABLES[component.parameter.type]
            parts.append(_Part(grouped_evaluator(component.relative, type_name), component.add, table))
        return tuple(parts)


class _Part(NamedTuple):
    """A composite's component, compiled for one type of composite node: its rows go to `table`."""

    evaluate: GroupedEvaluator
    add: RowBuilder
    table: type[SearchIndex]


def _composite_rows(rows: IndexRows, parts: tuple[_Part, ...], node: Any, content: dict[str, Any], group: int) -> None:
    """Add one composite value's rows, each part's under `group`. A value one of whose
    parts has nothing to index (an Observation without valueQuantity, for code-value-quantity) can match no
    search, since every part must match: its other parts' rows would only cost writes, so none are kept."""
    added: list[tuple[list[Row], int]] = []
    for evaluate, add_part, table in parts:
        table_rows = rows[table]
        before = len(table_rows)
        added.append((table_rows, before))
        for part_type, part_nodes in evaluate([node], content):
            add_part(rows, part_type, part_nodes, group)
        if len(table_rows) == before:
            for part_rows, length in added:
                del part_rows[length:]
            return


def _row_builder(parameter: SearchParameter, param: int, *, component: bool) -> RowBuilder | None:
    """The function appending a value's rows for this parameter, its keys hashed once here.

    Parts of a composite store their value only, no :text, :of-type or :identifier rows.
    """
    kind = parameter.type
    if kind == "composite":
        return None
    if kind == "token":
        return _token_rows(
            param, None if component else (index_key(parameter, ":of-type"), index_key(parameter, ":text"))
        )
    if kind == "reference":
        own = None if parameter.narrows is not None else param  # a narrowing's references are the wider's rows
        return _reference_rows(own, None if component else index_key(parameter, ":identifier"))
    return _VALUE_ROWS[kind](param)


# The row builders append `(param, group) + key`: each key of values.py is a tuple of its table's value
# columns in COLUMNS' order, so a row is one tuple concatenation, with no field read one by one. Plain
# loops: a generator costs more to set up than the one or two keys of a value it would go over.


def _token_rows(param: int, derived: tuple[int, int] | None) -> RowBuilder:
    def add(rows: IndexRows, fhir_type: str, nodes: list[Any], group: int | None) -> None:
        append = rows[TokenIndex].append
        head = (param, group)
        for node in nodes:
            for key in values.tokens(fhir_type, node):
                append(head + key)
        if derived is not None and fhir_type in values.DERIVED_TOKEN_TYPES:
            _derived_token_rows(rows, fhir_type, nodes, (derived[0], group), (derived[1], group))

    return add


def _derived_token_rows(rows: IndexRows, fhir_type: str, nodes: list[Any], of_type_head: Row, text_head: Row) -> None:
    """The `:of-type` and `:text` rows of a token parameter's values. A text gets one row however many of the
    values carry it: a concept's text is mostly its coding's display too (a third of the text rows were such
    repeats), and one row is all `:text` matches on."""
    append = rows[TokenIndex].append
    texts: list[str] = []
    for node in nodes:
        for key in values.identifier_types(fhir_type, node):
            append(of_type_head + key)
        texts += values.token_texts(fhir_type, node)
    append_text = rows[StringIndex].append
    for text in dict.fromkeys(texts):
        append_text(text_head + values.string_key(text))


def _reference_rows(param: int | None, identifier: int | None) -> RowBuilder:
    """Rows of references under `param` (None: none), of their identifiers under `identifier` (None: none)."""

    def add(rows: IndexRows, fhir_type: str, nodes: list[Any], group: int | None) -> None:
        append = rows[ReferenceIndex].append
        head = (param, group)
        identifier_head = None if identifier is None else (identifier, group)
        for node in nodes:
            if param is not None:
                for key in values.references(fhir_type, node):
                    append(head + key)
            if identifier_head is not None:
                for token in values.reference_identifiers(fhir_type, node):
                    rows[TokenIndex].append(identifier_head + token)

    return add


def _value_rows(model: type[SearchIndex], keys: Callable[[str, Any], Sequence[Any]]) -> Callable[[int], RowBuilder]:
    """A builder of the rows of a parameter whose values `keys` gives the keys of, all in one table."""

    def for_param(param: int) -> RowBuilder:
        def add(rows: IndexRows, fhir_type: str, nodes: list[Any], group: int | None) -> None:
            append = rows[model].append
            head = (param, group)
            for node in nodes:
                for key in keys(fhir_type, node):
                    append(head + key)

        return add

    return for_param


_VALUE_ROWS: dict[str, Callable[[int], RowBuilder]] = {
    "string": _value_rows(StringIndex, values.strings),
    "date": _value_rows(DateIndex, values.dates),
    "number": _value_rows(NumberIndex, values.numbers),
    "quantity": _value_rows(QuantityIndex, values.quantities),
    "uri": _value_rows(UriIndex, values.uris),
}


PlanIndex = Callable[[IndexRows, dict[str, Any]], None]  # a plan's `index` method, bound

# Key sets remembered per type: resources of a type mostly share a few, but input may vary without end.
KEY_SETS_KEPT = 256


@dataclass
class _TypePlans:
    """A type's plans, built for one state of the registry, and which of them each key set needs."""

    parameters: dict[str, SearchParameter]
    plans: tuple[ParameterPlan, ...]
    by_keys: dict[tuple[str, ...], tuple[PlanIndex, ...]] = field(default_factory=dict)

    def reading(self, content: dict[str, Any]) -> tuple[PlanIndex, ...]:
        """The plans that can find something in `content`, as their `index` methods: most of a type's
        parameters find nothing in a given resource, and skipping them unevaluated (by their `reads`) is
        cheaper than evaluating."""
        keys = tuple(content)  # in order: quicker to make than a set, and one source writes its keys alike
        found = self.by_keys.get(keys)
        if found is None:
            if len(self.by_keys) >= KEY_SETS_KEPT:
                self.by_keys.clear()
            found = tuple(plan.index for plan in self.plans if plan.reads is None or not plan.reads.isdisjoint(keys))
            self.by_keys[keys] = found
        return found


_plans: dict[str, _TypePlans] = {}


def extraction_plan(resource_type: str) -> tuple[ParameterPlan, ...]:
    """Every parameter of the type with its compiled expression (composites with their parts)."""
    return _type_plans(resource_type).plans


def _type_plans(resource_type: str) -> _TypePlans:
    """Rebuilt when the registry is (stored definitions changed); reused otherwise."""
    parameters = parameters_for(resource_type, for_indexing=True)
    cached = _plans.get(resource_type)
    if cached is not None and cached.parameters is parameters:
        return cached
    cached = _plans[resource_type] = _TypePlans(parameters, _build_plans(parameters))
    return cached


def _build_plans(parameters: dict[str, SearchParameter]) -> tuple[ParameterPlan, ...]:
    plans = []
    for parameter in parameters.values():
        if parameter.code in ROW_PARAMETERS or parameter.union_of or parameter.parts_from:
            continue  # searched on other parameters' rows: a union on its members', a composite on its parts'
        param = index_key(parameter)
        plan = ParameterPlan(
            parameter=parameter,
            param=param,
            add=_row_builder(parameter, param, component=False),
            extract=grouped_evaluator(parameter.expression, parameter.resource_type),
            reads=resource_keys(parameter.expression, parameter.resource_type),
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
        param = index_key(parameter, f"${number}")
        parts.append(
            ParameterPlan(
                parameter=definition,
                param=param,
                add=_row_builder(definition, param, component=True),
                relative=component.expression,
            )
        )
    return tuple(parts)
