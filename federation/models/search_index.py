"""Search index tables: one per parameter type, rows pointing at the current Resource row.

Keys are 64-bit hashes (parameter = type + code; system; code; system + code), so every lookup is a
narrow B-tree probe. `group` ties the parts of one composite value together (None otherwise).
A resource's rows are replaced on every write; a deleted resource has none.

The tables have no surrogate key and no foreign-key constraint: about 21 rows are written per resource, and a
key sequence, a primary-key index and a foreign-key check per row were a fifth of PostgreSQL's work on ingest
(docs/decisions.md). Django needs a primary key, so it is told `resource` is one: rows are only ever read in
SQL or by table (filters, EXISTS, counts), never fetched, saved or compared one by one, as such "keys" repeat
(a one-to-one field, as Django warns about a foreign key that is unique).
The one write path keeps them in step with `federation_resource` in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.indexes import OpClass
from django.db import models

from federation.models.resource import Resource


class PatternBound(models.Lookup):  # type: ignore[type-arg]
    """`field ~>=~ value` / `field ~<~ value`: byte-wise comparison, served by a text_pattern_ops index. A prefix
    search as such a range keeps its plan when prepared (LIKE of a bound parameter cannot use the index)."""

    operator = ""

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} {self.operator} {rhs}", [*lhs_params, *rhs_params]


class PatternAtLeast(PatternBound):
    lookup_name = "pattern_gte"
    operator = "~>=~"


class PatternBelow(PatternBound):
    lookup_name = "pattern_lt"
    operator = "~<~"


class PatternField(models.CharField):  # type: ignore[type-arg]
    """A CharField with the byte-wise range lookups (pattern_gte, pattern_lt)."""


PatternField.register_lookup(PatternAtLeast)
PatternField.register_lookup(PatternBelow)


class SearchIndex(models.Model):
    resource = models.OneToOneField(
        Resource, on_delete=models.CASCADE, primary_key=True, db_constraint=False, related_name="+"
    )
    param = models.BigIntegerField()
    group = models.SmallIntegerField(null=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.param} of resource {self.resource_id}"


class TokenIndex(SearchIndex):
    """Codings, identifiers, codes, booleans, contact points: hashed system (None: none) and code.

    One index, by (param, code, system), answers `code`, `system|code` and `|code` (system IS NULL) with
    equalities; `system|` (any code of a system) reads the parameter's entries for that system. A second index,
    by (param, system, code), was a random B-tree entry more for every token row an ingest writes, for that rare
    form alone (docs/decisions.md)."""

    system = models.BigIntegerField(null=True)
    code = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["param", "code", "system", "resource"], name="token_value"),
            models.Index(fields=["resource", "param"], name="token_resource"),
        ]


class StringIndex(SearchIndex):
    """`normalized` (folded, see search.normalize; first 255 characters) for prefix and contains;
    `exact` is a hash of the whole original string, for :exact. An exact string folds to one normalized value,
    so :exact probes `string_prefix` for it and checks `exact` on those rows: an index of its own cost an
    ingest a sixth of its string index entries (docs/decisions.md)."""

    normalized = PatternField(max_length=255)
    exact = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index("param", OpClass("normalized", name="text_pattern_ops"), "resource", name="string_prefix"),
            models.Index(fields=["resource", "param"], name="string_resource"),
        ]


class DateIndex(SearchIndex):
    """A value as the interval it covers, by its precision: [low, high]."""

    low = models.DateTimeField(null=True)
    high = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["param", "low", "high", "resource"], name="date_low"),
            models.Index(fields=["param", "high", "low", "resource"], name="date_high"),
            models.Index(fields=["resource", "param"], name="date_resource"),
        ]


class NumberIndex(SearchIndex):
    value = models.FloatField()

    class Meta:
        indexes = [
            models.Index(fields=["param", "value", "resource"], name="number_value"),
            models.Index(fields=["resource", "param"], name="number_resource"),
        ]


class QuantityIndex(SearchIndex):
    """Hashes of system|code, of code and of the human unit, so `value||mg` matches code or unit."""

    value = models.FloatField()
    system_code = models.BigIntegerField(null=True)
    code = models.BigIntegerField(null=True)
    unit = models.BigIntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["param", "value", "resource"], name="quantity_value"),
            models.Index(fields=["param", "system_code", "value"], name="quantity_system_code"),
            models.Index(fields=["resource", "param"], name="quantity_resource"),
        ]


class ReferenceIndex(SearchIndex):
    """A literal reference split into target type and id (local), or kept whole (`url`)."""

    # NULL, not "", says "this part is absent": a local reference has no url, an absolute one no id (its type is
    # the one its path names, if any: values.named_target).
    target_type = models.CharField(max_length=64, null=True)  # noqa: DJ001
    target_id = models.CharField(max_length=64, null=True)  # noqa: DJ001
    url = models.TextField(null=True)  # noqa: DJ001

    class Meta:
        # Every lookup by target names its parameter (chains, _has, _include, compartments), so one index
        # leading with it serves them all. Absolute URLs are rare (a local reference has none): their index
        # holds only rows that have one, instead of an entry for every reference.
        indexes = [
            models.Index(fields=["param", "target_id", "target_type", "resource"], name="reference_target"),
            models.Index(fields=["param", "url"], name="reference_url", condition=models.Q(url__isnull=False)),
            models.Index(fields=["resource", "param"], name="reference_resource"),
        ]


class UriIndex(SearchIndex):
    uri = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["param", "uri", "resource"], name="uri_value"),
            models.Index(fields=["resource", "param"], name="uri_resource"),
        ]


# The table that holds the values of each type of search parameter.
INDEX_TABLES: dict[str, type[SearchIndex]] = {
    "token": TokenIndex,
    "string": StringIndex,
    "date": DateIndex,
    "number": NumberIndex,
    "quantity": QuantityIndex,
    "reference": ReferenceIndex,
    "uri": UriIndex,
}
