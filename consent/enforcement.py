"""The access filter: an access context compiled into one SQL predicate on stored rows, applied before paging.

The predicate reads the row's placement (Resource.owners, Resource.data_period: federation.search.placement),
type and content; a version (history) is placed by its resource's current row. Per row it makes one index probe
for the owners' deny rules (consent_rule_patient), and one more only for a deny a nested permit may lift. It is
kept small on purpose: PostgreSQL plans it anew in every statement, and planning was most of what it cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Expression, F, Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from consent.contracts import AccessContext, AccessKind
from consent.policy import BasePolicy, actor_keys
from federation import facade as federation

PLACEMENT = {"owners": "text[]", "data_period": "tstzmultirange"}  # the placement columns and their types
# a version's resource's placement; the cast makes it a value (ANY of a bare subquery would compare its rows)
CURRENT_PLACEMENT = "(SELECT r.{column} FROM federation_resource r WHERE r.id = {id})::{type}"


class RowPredicate(Expression):
    """Raw SQL over the row's type and content ({type}, {content}) and its placement ({owners}, {data_period}):
    a current row's own columns, or for a version its resource's. Django aliases the columns, so the predicate
    stays right inside subqueries."""

    conditional = True

    def __init__(self, sql: str, params: list[Any], *, version: bool) -> None:
        super().__init__(output_field=BooleanField())
        self.sql, self.params, self.version = sql, params, version
        placed = [F("resource_id")] if version else [F(column) for column in PLACEMENT]
        self.columns: list[Any] = [F("resource_type"), F("content"), *placed]

    def get_source_expressions(self) -> list[Any]:
        return self.columns

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.columns = list(exprs)

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        row_type, content, *placed = [compiler.compile(column)[0] for column in self.columns]
        if self.version:
            placement = {
                column: CURRENT_PLACEMENT.format(column=column, id=placed[0], type=type_)
                for column, type_ in PLACEMENT.items()
            }
        else:
            placement = dict(zip(PLACEMENT, placed, strict=True))
        return "(" + self.sql.format(type=row_type, content=content, **placement) + ")", list(self.params)


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
    params: Sequence[Any]
    if access.kind is AccessKind.PATIENT:
        text, params = (
            "{owners} IS NULL OR {owners} && %s::text[]",
            [list(person_patients(access))],
        )
    else:
        actors = actor_keys(
            organization=access.organization,
            practitioner=access.practitioner,
            client_id=access.client_id,
            municipality=access.municipality,
        )
        text, params = _user_predicate(
            tuple(sorted(actors)), access.purpose.value, tuple(emergency_patients(access)), base_policy()
        )
    return resources.filter(RowPredicate(text, list(params), version=_is_version(resources.model)))


def _is_version(model: type[Model]) -> bool:
    return any(field.name == "resource" for field in model._meta.get_fields())


@lru_cache(maxsize=1024)
def _user_predicate(
    actors: tuple[str, ...], purpose: str, glass: tuple[str, ...], policy: BasePolicy
) -> tuple[str, tuple[Any, ...]]:
    """Rows outside the Patient compartment; a personal row when it has an owner and no owner's rules deny it
    (a deny a deeper permit of the same Consent lifts does not) unless the account broke the glass for that
    owner (`glass`); under opt-in, each other owner's rules must also permit it. Built once per actor."""
    sql = Sql()
    sql.add("{owners} IS NULL OR (cardinality({owners}) > 0 AND NOT EXISTS (SELECT 1 FROM consent_consentrule d")
    sql.add("WHERE d.patient = ANY({owners}) AND d.effect = 'deny' AND")
    _matches(sql, "d", actors, purpose)
    if glass:
        sql.add("AND NOT (d.patient = ANY(%s::text[]))", list(glass))
    sql.add("AND NOT EXISTS (SELECT 1 FROM consent_consentrule p WHERE p.patient = d.patient")
    sql.add("AND p.consent = d.consent AND p.effect = 'permit' AND p.depth > d.depth AND")
    _matches(sql, "p", actors, purpose)
    sql.add("))")
    if policy is BasePolicy.OPT_IN:
        sql.add("AND NOT EXISTS (SELECT 1 FROM unnest({owners}) AS owner(patient) WHERE")
        if glass:
            sql.add("NOT (owner.patient = ANY(%s::text[])) AND", list(glass))
        sql.add("NOT EXISTS (SELECT 1 FROM consent_consentrule p WHERE p.patient = owner.patient")
        sql.add("AND p.effect = 'permit' AND")
        _matches(sql, "p", actors, purpose)
        sql.add("))")
    sql.add(")")
    return sql.text, tuple(sql.params)


def person_patients(access: AccessContext) -> tuple[str, ...]:
    """Every Patient id of the person a PATIENT context is pinned to: from the context when its token's lookup
    brought them, else asked now."""
    if access.person is not None:
        return access.person
    return tuple(federation.person_of_patient(access.patient or ""))


def emergency_patients(access: AccessContext) -> tuple[str, ...]:
    """The Patients the context's account broke the glass for, unexpired: from the context when its token's
    lookup brought them, else asked now."""
    if access.emergency is not None:
        return access.emergency
    if not access.subject:
        return ()
    from consent.break_glass import break_glass_patients

    return break_glass_patients(subject=access.subject)


# consent.policy.rule_matches in SQL; `@` stands for the rule row's alias. A rule's data period is closed at both
# ends (an open end unbounded); an empty one (low above high, from nested periods) matches no dated row.
RULE_MATCHES = """(@.actor IS NULL OR @.actor = ANY(%s::text[]))
AND (@.purposes IS NULL OR %s = ANY(@.purposes))
AND (@.resource_types IS NULL OR {type} = ANY(@.resource_types))
AND (@.valid_from IS NULL OR @.valid_from <= now()) AND (@.valid_to IS NULL OR @.valid_to >= now())
AND (@.labels IS NULL OR ({content} -> 'meta' -> 'security') @> ANY(@.labels))
AND (NOT @.dated OR CASE WHEN {data_period} IS NULL THEN @.effect = 'deny' WHEN @.data_low > @.data_high THEN false
     ELSE {data_period} && tstzrange(@.data_low, @.data_high, '[]') END)"""


def _matches(sql: Sql, rule: str, actors: tuple[str, ...], purpose: str) -> None:
    sql.add(RULE_MATCHES.replace("@.", f"{rule}."), list(actors), purpose)
