"""Compile search criteria into SQL over the index tables (Django Q objects with EXISTS).

Every criterion becomes one EXISTS probe on its parameter's table, keyed by the hashed parameter,
so PostgreSQL answers it from a covering B-tree; chains and _has become nested semi-joins. The
filter is applied before paging, in the same query as the access filter.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from consent.contracts import AccessContext
from consent.facade import access_filter
from core.outcome import invalid, not_supported
from federation.models import (
    INDEX_TABLES,
    ReferenceIndex,
    Resource,
    SearchIndex,
    StringIndex,
    TokenIndex,
)
from federation.search.dates import date_interval
from federation.search.hashing import hash64
from federation.search.meta_parameters import META_PARAMETERS, meta_filter, meta_present
from federation.search.normalize import normalize_string
from federation.search.query import Criterion, split_prefix, split_values, unescape
from federation.search.registry import (
    SearchParameter,
    composite_rows,
    index_keys,
    narrowed_rows,
    parameter_by_url,
)
from federation.search.uris import uri_match
from federation.search.values import LOCAL_REFERENCE, STRING_INDEX_LENGTH, token_key, unit_system_code


def criterion_filter(criterion: Criterion, access: AccessContext) -> Q:
    """A Q over Resource rows of the criterion's base type. Chained targets and _has sources must be visible to
    `access` too, or a chain would tell what a hidden resource holds."""
    condition = _parameter_filter(criterion.parameter, criterion.modifier, criterion.values)
    for link in reversed(criterion.chain):
        targets = access_filter(access, live(link.target_type).filter(condition)).values("logical_id")
        condition = Q(
            Exists(
                ReferenceIndex.objects.filter(
                    resource=OuterRef("pk"),
                    param__in=index_keys(link.parameter),
                    target_type=link.target_type,
                    target_id__in=targets,
                ).filter(**narrowed_rows(link.parameter))
            )
        )
    for reverse in reversed(criterion.reverse):
        sources = access_filter(access, live(reverse.source_type).filter(condition)).values("pk")
        condition = Q(
            Exists(
                ReferenceIndex.objects.filter(
                    param__in=index_keys(reverse.reference),
                    target_type=OuterRef("resource_type"),
                    target_id=OuterRef("logical_id"),
                    resource_id__in=sources,
                ).filter(**narrowed_rows(reverse.reference))
            )
        )
    return condition


def live(resource_type: str) -> QuerySet[Resource]:
    return Resource.objects.filter(resource_type=resource_type, is_deleted=False)


def _parameter_filter(parameter: SearchParameter, modifier: str | None, values: tuple[str, ...]) -> Q:
    if modifier == "missing":
        return _missing(parameter, values)
    if parameter.code == "_id":
        ids = [unescape(value) for value in values]
        return ~Q(logical_id__in=ids) if modifier == "not" else Q(logical_id__in=ids)
    if parameter.code == "_lastUpdated":
        return _any(values, _last_updated)
    if parameter.code in META_PARAMETERS:
        return _any(values, lambda value: meta_filter(parameter.code, modifier, unescape(value)))
    if parameter.type == "composite":
        return _any(values, lambda value: _composite(parameter, value))
    if parameter.type == "token" and modifier == "not":
        return ~_rows(TokenIndex, index_keys(parameter), _any(values, _token))
    if parameter.type == "token" and modifier == "text":
        return _rows(StringIndex, index_keys(parameter, ":text"), _any(values, _string_prefix))
    if parameter.type == "token" and modifier == "of-type":
        return _rows(TokenIndex, index_keys(parameter, ":of-type"), _any(values, _of_type))
    if parameter.type == "reference" and modifier == "identifier":
        return _rows(TokenIndex, index_keys(parameter, ":identifier"), _any(values, _token))
    matcher = _value_matcher(parameter, modifier)
    condition = Q(**narrowed_rows(parameter)) & _any(values, matcher)
    return _rows(INDEX_TABLES[parameter.type], index_keys(parameter), condition)


def _value_matcher(parameter: SearchParameter, modifier: str | None) -> Callable[[str], Q]:
    kind = parameter.type
    if kind == "string":
        return {"exact": _string_exact, "contains": _string_contains}.get(modifier or "", _string_prefix)
    if kind == "reference":
        return lambda value: _reference(parameter, modifier, value)
    if kind == "uri":
        return lambda value: uri_match(F("uri"), modifier, unescape(value))
    return {"token": _token, "date": _date, "number": _number, "quantity": _quantity}[kind]


def _rows(model: type[SearchIndex], params: tuple[int, ...], condition: Q) -> Q:
    """EXISTS a row of this parameter (of one of its members, for a union) for the outer resource that meets
    `condition`."""
    of_param = Q(param=params[0]) if len(params) == 1 else Q(param__in=params)
    rows = model._default_manager.filter(of_param, resource=OuterRef("pk")).filter(condition)
    return Q(Exists(rows))


def _any(values: tuple[str, ...], matcher: Callable[[str], Q]) -> Q:
    combined = Q()
    for value in values:
        combined |= matcher(value)
    return combined


def _missing(parameter: SearchParameter, values: tuple[str, ...]) -> Q:
    if values not in (("true",), ("false",)):
        raise invalid(f"{parameter.code}:missing takes true or false.")
    if parameter.code in ("_id", "_lastUpdated"):
        present = Q(pk__isnull=False)  # every resource has both
    elif parameter.code in META_PARAMETERS:
        present = meta_present(parameter.code)
    elif parameter.type == "composite":
        # A value is stored only with all its parts, so its first part's row tells it is there; parts that are
        # other parameters' rows must each be there.
        tables = _part_tables(parameter)
        present = Q(pk__in=[])
        for rows in composite_rows(parameter):
            kept = zip(tables, rows.keys, strict=True) if not rows.grouped else [(tables[0], rows.keys[0])]
            each = [_rows(table, (key,), Q()) for table, key in kept]
            present |= functools.reduce(operator.and_, each)
    else:
        present = _rows(INDEX_TABLES[parameter.type], index_keys(parameter), Q(**narrowed_rows(parameter)))
    return ~present if values == ("true",) else present


# token


def _token(value: str) -> Q:
    parts = split_values(value, "|")
    if len(parts) == 1:
        return Q(code=hash64(unescape(parts[0])))
    if len(parts) != 2:
        raise invalid(f"Token '{value}' has more than one unescaped '|'.")
    system, code = unescape(parts[0]), unescape(parts[1])
    if code == "":
        return Q(system=hash64(system))
    key = token_key(system or None, code)  # `|code`: system IS NULL
    return Q(system=key.system, code=key.code)


def _of_type(value: str) -> Q:
    parts = [unescape(part) for part in split_values(value, "|")]
    if len(parts) != 3 or not all(parts[1:]):
        raise invalid(f":of-type takes type-system|type-code|value, not '{value}'.")
    key = token_key(f"{parts[0]}|{parts[1]}", parts[2])  # as values.identifier_types keys it
    return Q(system=key.system, code=key.code)


# string


def _string_prefix(value: str) -> Q:
    """The strings from the prefix up to (not including) the prefix with its last character's successor: the same
    rows as LIKE 'prefix%' (UTF-8 sorts bytes as it sorts code points), as a range a prepared plan keeps."""
    prefix = normalize_string(unescape(value))
    last = ord(prefix[-1]) + 1 if prefix else 0x110000
    last = 0xE000 if 0xD800 <= last < 0xE000 else last  # surrogates are no characters: the next one is U+E000
    if last > 0x10FFFF:
        return Q(normalized__startswith=prefix)
    return Q(normalized__pattern_gte=prefix, normalized__pattern_lt=prefix[:-1] + chr(last))


def _string_contains(value: str) -> Q:
    return Q(normalized__contains=normalize_string(unescape(value)))


def _string_exact(value: str) -> Q:
    """The one normalized form of the string, which the prefix index finds, and its hash among those rows."""
    text = unescape(value)
    return Q(normalized=normalize_string(text)[:STRING_INDEX_LENGTH], exact=hash64(text))


# date


def _search_interval(value: str) -> tuple[str, datetime, datetime]:
    prefix, text = split_prefix(value)
    interval = date_interval(text)
    if interval is None:
        raise invalid(f"'{value}' is not a FHIR date, dateTime or instant (e.g. ge2026-04-01).")
    return prefix, interval[0], interval[1]


def _date(value: str) -> Q:
    """Interval semantics: NULL low/high are open ends of a Period (-inf / +inf)."""
    prefix, low, high = _search_interval(value)
    # `low <= high` is implied (a value starts before it ends) but bounds the (param, low, ...)
    # index on both sides, so PostgreSQL reads only the rows inside the search interval.
    within = Q(low__gte=low, low__lte=high, high__lte=high)
    above = Q(high__gt=high) | Q(high__isnull=True)
    below = Q(low__lt=low) | Q(low__isnull=True)
    conditions = {
        "eq": within,
        "ne": ~within | Q(low__isnull=True) | Q(high__isnull=True),
        "gt": above,
        "lt": below,
        "ge": above | within,
        "le": below | within,
        "sa": Q(low__gt=high),
        "eb": Q(high__lt=low),
        "ap": _approximately(low, high),
    }
    return conditions[prefix]


def _ap_margin(low: datetime) -> timedelta:
    """`ap` widens a search range by 10% of its distance from now, at least a day."""
    return max(abs(timezone.now() - low) / 10, timedelta(days=1))


def _approximately(low: datetime, high: datetime) -> Q:
    """Overlap with the search range widened by the `ap` margin."""
    margin = _ap_margin(low)
    wide_low, wide_high = low - margin, high + margin
    return (Q(low__lte=wide_high) | Q(low__isnull=True)) & (Q(high__gte=wide_low) | Q(high__isnull=True))


def _last_updated(value: str) -> Q:
    """_lastUpdated compares the stored instant (a point) with the search interval."""
    prefix, low, high = _search_interval(value)
    conditions = {
        "eq": Q(last_updated__gte=low, last_updated__lte=high),
        "ne": Q(last_updated__lt=low) | Q(last_updated__gt=high),
        "gt": Q(last_updated__gt=high),
        "lt": Q(last_updated__lt=low),
        "ge": Q(last_updated__gte=low),
        "le": Q(last_updated__lte=high),
        "sa": Q(last_updated__gt=high),
        "eb": Q(last_updated__lt=low),
        "ap": _approximately_instant(low, high),
    }
    return conditions[prefix]


def _approximately_instant(low: datetime, high: datetime) -> Q:
    margin = _ap_margin(low)
    return Q(last_updated__gte=low - margin, last_updated__lte=high + margin)


# number and quantity


def _number_range(text: str) -> tuple[Decimal, Decimal, Decimal]:
    """The value and the range its precision implies: 100 is [99.5, 100.5), 100.0 is [99.95, 100.05)."""
    try:
        number = Decimal(text)
    except InvalidOperation as error:
        raise invalid(f"'{text}' is not a number.") from error
    if not number.is_finite():
        raise invalid(f"'{text}' is not a finite number.")
    exponent = number.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1)
    return number, number - half, number + half


def _number_condition(prefix: str, text: str) -> Q:
    number, low, high = _number_range(text)
    value, lower, upper = float(number), float(low), float(high)
    margin = abs(value) / 10
    conditions = {
        "eq": Q(value__gte=lower, value__lt=upper),
        "ne": Q(value__lt=lower) | Q(value__gte=upper),
        "gt": Q(value__gt=value),
        "lt": Q(value__lt=value),
        "ge": Q(value__gte=value),
        "le": Q(value__lte=value),
        "sa": Q(value__gt=value),
        "eb": Q(value__lt=value),
        "ap": Q(value__gte=value - margin, value__lte=value + margin),
    }
    return conditions[prefix]


def _number(value: str) -> Q:
    prefix, text = split_prefix(value)
    return _number_condition(prefix, text)


def _quantity(value: str) -> Q:
    parts = [unescape(part) for part in split_values(value, "|")]
    if len(parts) not in (1, 3):
        raise invalid(f"Quantity '{value}' takes [prefix]number|system|code, number||code or number.")
    prefix, text = split_prefix(parts[0])
    condition = _number_condition(prefix, text)
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system and code:
            condition &= Q(system_code=unit_system_code(system, code))
        elif code:
            condition &= Q(code=hash64(code)) | Q(unit=hash64(code))
    return condition


# reference


def _reference(parameter: SearchParameter, modifier: str | None, value: str) -> Q:
    text = unescape(value)
    local = LOCAL_REFERENCE.match(text)
    if local:
        if modifier and modifier != local["type"]:
            return Q(pk__in=[])
        return Q(target_type=local["type"], target_id=local["id"])
    if "/" in text or ":" in text:
        return Q(url=text)
    if modifier:
        return Q(target_type=modifier, target_id=text)
    return Q(target_id=text)


# composite


def _composite(parameter: SearchParameter, value: str) -> Q:
    """`code$value`: every part must match within the same composite value (same group; the resource, for a
    composite of the resource itself); a union of composites (combo-code-value-quantity) matches where one of its
    members does, each member's groups its own."""
    parts = split_values(value, "$")
    if len(parts) != len(parameter.components):
        raise invalid(f"{parameter.code} takes {len(parameter.components)} parts joined by '$', not '{value}'.")
    definitions = _part_definitions(parameter)
    matches = [
        (INDEX_TABLES[definition.type], _value_matcher(definition, None)(part))
        for definition, part in zip(definitions, parts, strict=True)
    ]
    combined = Q()
    for rows in composite_rows(parameter):
        if rows.grouped:
            combined |= _composite_rows(matches, rows.keys)
        else:
            each = [_rows(model, (key,), match) for (model, match), key in zip(matches, rows.keys, strict=True)]
            combined |= functools.reduce(operator.and_, each)
    return combined


def _part_definitions(parameter: SearchParameter) -> list[SearchParameter]:
    definitions = [
        parameter_by_url(component.definition, parameter.resource_type) for component in parameter.components
    ]
    if any(definition is None for definition in definitions):
        raise not_supported(f"{parameter.code}: a component's definition is not known to this server.")
    return [definition for definition in definitions if definition is not None]


def _part_tables(parameter: SearchParameter) -> list[type[SearchIndex]]:
    return [INDEX_TABLES[definition.type] for definition in _part_definitions(parameter)]


def _composite_rows(matches: list[tuple[type[SearchIndex], Q]], keys: tuple[int, ...]) -> Q:
    """EXISTS a first part's row for the outer resource that meets its match, with rows of the other parts in its
    group that meet theirs (`keys`: each part's parameter key)."""
    condition: Q | None = None
    for number in reversed(range(len(matches))):
        model, match = matches[number]
        rows = model._default_manager.filter(param=keys[number]).filter(match)
        if number == 0:
            rows = rows.filter(resource=OuterRef("pk"))
        else:
            rows = rows.filter(resource=OuterRef("resource"), group=OuterRef("group"))
        if condition is not None:
            rows = rows.filter(condition)
        condition = Q(Exists(rows))
    assert condition is not None
    return condition
