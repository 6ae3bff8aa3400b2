"""The access filter: an access context compiled into one SQL predicate on stored rows, applied before paging.

The predicate is correlated only through the row's id (Resource.id or ResourceVersion.resource_id), type, id,
and content, so it works on current rows and on history alike, and every probe it makes is an index lookup:
the row's compartment references (reference_resource), the rules of those Patients (consent_rule_patient), and
only for a rule that names labels or a data period, the row's labels (its own content) and dates (date index).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Expression, F, Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from consent.contracts import AccessContext, AccessKind
from consent.policy import BasePolicy, actor_keys
from federation import facade as federation
from federation.contracts import OwnershipFacts

COLUMNS = ("id", "type", "logical_id", "content")


class RowPredicate(Expression):
    """Raw SQL over the row's own columns ({id}, {type}, {logical_id}, {content}) and federation's index tables
    ({references}, {dates}); Django aliases the columns, so the predicate stays right inside subqueries."""

    conditional = True

    def __init__(self, sql: str, params: list[Any], id_column: str, tables: dict[str, str]) -> None:
        super().__init__(output_field=BooleanField())
        self.sql, self.params, self.tables = sql, params, tables
        self.columns: list[Any] = [F(id_column), F("resource_type"), F("logical_id"), F("content")]

    def get_source_expressions(self) -> list[Any]:
        return self.columns

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.columns = list(exprs)

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        names = {name: compiler.compile(column)[0] for name, column in zip(COLUMNS, self.columns, strict=True)}
        return "(" + self.sql.format(**names, **self.tables) + ")", list(self.params)


class Sql:
    """SQL text with its parameters, built in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, text: str, *params: Any) -> Sql:
        self.parts.append(text)
        self.params.extend(params)
        return self

    @property
    def text(self) -> str:
        return " ".join(self.parts)


def base_policy() -> BasePolicy:
    return BasePolicy(settings.CONSENT_BASE_POLICY)


def access_rows(access: AccessContext, resources: QuerySet[Any]) -> QuerySet[Any]:
    """`resources` narrowed to what a PATIENT or USER context may see."""
    facts = federation.ownership_facts()
    sql = Sql()
    if access.kind is AccessKind.PATIENT:
        _patient_predicate(sql, facts, federation.person_of_patient(access.patient or ""))
    else:
        _user_predicate(sql, facts, access)
    id_column = "resource_id" if _is_version(resources.model) else "pk"
    tables = {"references": facts.reference_table, "dates": facts.date_table}
    return resources.filter(RowPredicate(sql.text, sql.params, id_column, tables))


def _is_version(model: type[Model]) -> bool:
    return any(field.name == "resource" for field in model._meta.get_fields())


@cache
def _fact_arrays(facts: OwnershipFacts) -> dict[str, str]:
    """The ownership facts as SQL array literals, written once per process: sent as parameters they were quoted
    anew into every statement (client-side binding), a millisecond a statement. They are the spec's type names
    and integer hashes, never request input."""
    for name in facts.personal_types:
        if not name.isalpha():
            raise ValueError(f"unexpected resource type name {name!r}")
    return {
        "personal_types": "ARRAY[" + ",".join(f"'{name}'" for name in facts.personal_types) + "]::text[]",
        "owner_keys": "ARRAY[" + ",".join(str(int(key)) for key in facts.owner_keys) + "]::bigint[]",
        "date_keys": "ARRAY[" + ",".join(str(int(key)) for key in facts.date_keys) + "]::bigint[]",
    }


def _patient_predicate(sql: Sql, facts: OwnershipFacts, patients: list[str]) -> None:
    """The pinned person's compartment, and every row of a type outside the Patient compartment."""
    arrays = _fact_arrays(facts)
    sql.add(f"NOT ({{type}} = ANY({arrays['personal_types']}))")
    sql.add("OR ({type} = 'Patient' AND {logical_id} = ANY(%s::text[]))", patients)
    sql.add("OR ({type} <> 'Patient' AND EXISTS (SELECT 1 FROM {references} o WHERE o.resource_id = {id}")
    sql.add(f"AND o.param = ANY({arrays['owner_keys']}) AND o.target_type = 'Patient'")
    sql.add("AND o.target_id = ANY(%s::text[])))", patients)


def _owners(sql: Sql, facts: OwnershipFacts) -> None:
    """The Patients a row belongs to: itself for a Patient, else those its compartment parameters reference."""
    sql.add("SELECT {logical_id} AS patient WHERE {type} = 'Patient'")
    sql.add("UNION ALL SELECT o.target_id FROM {references} o WHERE o.resource_id = {id}")
    sql.add(f"AND o.param = ANY({_fact_arrays(facts)['owner_keys']}) AND o.target_type = 'Patient'")
    sql.add("AND o.target_id IS NOT NULL")


def _user_predicate(sql: Sql, facts: OwnershipFacts, access: AccessContext) -> None:
    """Rows outside the Patient compartment; a personal row when it has an owner and for each owner, the owner's
    rules (or the base policy) permit it or the account broke the glass for that owner. One owners subquery
    per row: each part of the expression costs planning time on every query."""
    actors = sorted(
        actor_keys(
            organization=access.organization,
            practitioner=access.practitioner,
            client_id=access.client_id,
            municipality=access.municipality,
        )
    )
    glass = access.subject or ""  # the account's unexpired break-the-glass declarations pass its denies
    purpose = access.purpose.value
    sql.add(f"NOT ({{type}} = ANY({_fact_arrays(facts)['personal_types']})) OR COALESCE((SELECT bool_and((")
    sql.add("NOT EXISTS (SELECT 1 FROM consent_consentrule d WHERE d.patient = owner.patient AND d.effect = 'deny'")
    sql.add("AND")
    _matches(sql, "d", facts, actors, purpose)
    sql.add("AND NOT EXISTS (SELECT 1 FROM consent_consentrule p WHERE p.patient = d.patient")
    sql.add("AND p.consent = d.consent AND p.effect = 'permit' AND p.depth > d.depth AND")
    _matches(sql, "p", facts, actors, purpose)
    sql.add("))")
    if base_policy() is BasePolicy.OPT_IN:
        sql.add("AND EXISTS (SELECT 1 FROM consent_consentrule p WHERE p.patient = owner.patient")
        sql.add("AND p.effect = 'permit' AND")
        _matches(sql, "p", facts, actors, purpose)
        sql.add(")")
    sql.add(") OR EXISTS (")
    sql.add(GLASS, glass)
    sql.add(")) FROM (")
    _owners(sql, facts)
    sql.add(") AS owner), false)")  # no owner: NULL, not shown


GLASS = (
    "SELECT 1 FROM consent_breakglass g WHERE g.subject = %s AND g.expires_at > now()"
    " AND owner.patient = ANY(g.patients)"
)
# consent.policy.rule_matches in SQL; `@` stands for the rule row's alias.
RULE_MATCHES = """(@.actor IS NULL OR @.actor = ANY(%s::text[]))
AND (@.purposes IS NULL OR %s = ANY(@.purposes))
AND (@.resource_types IS NULL OR {type} = ANY(@.resource_types))
AND (@.valid_from IS NULL OR @.valid_from <= now()) AND (@.valid_to IS NULL OR @.valid_to >= now())
AND (@.labels IS NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(@.labels) AS l(label)
     WHERE {content} -> 'meta' -> 'security' @> jsonb_build_array(l.label)))
AND (NOT @.dated OR CASE
     WHEN EXISTS (SELECT 1 FROM {dates} t WHERE t.resource_id = {id} AND t.param = ANY(<date_keys>))
     THEN EXISTS (SELECT 1 FROM {dates} t WHERE t.resource_id = {id} AND t.param = ANY(<date_keys>)
                  AND (@.data_high IS NULL OR t.low <= @.data_high) AND (@.data_low IS NULL OR t.high >= @.data_low))
     ELSE @.effect = 'deny' END)"""


def _matches(sql: Sql, rule: str, facts: OwnershipFacts, actors: list[str], purpose: str) -> None:
    matches = RULE_MATCHES.replace("@.", f"{rule}.").replace("<date_keys>", _fact_arrays(facts)["date_keys"])
    sql.add(matches, actors, purpose)
