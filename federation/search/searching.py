"""The search selector: criteria, access filter, sort and keyset page in one query; then includes.

Part of the one read path: the access filter narrows the SQL before paging, so Bundle.total and
every page count only what the caller may see; included resources pass the same filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from consent.contracts import AccessContext
from consent.facade import access_filter
from federation.contracts import StoredVersion
from federation.models import ReferenceIndex, Resource
from federation.search.compiler import criterion_filter
from federation.search.ordering import after, apply_sort, decode_token, encode_token, order_by
from federation.search.query import Include, SearchQuery
from federation.search.registry import index_keys, narrowed_rows, parameters_for

MAX_INCLUDE_DEPTH = 4


@dataclass(frozen=True)
class SearchResult:
    matches: tuple[StoredVersion, ...]
    included: tuple[StoredVersion, ...]
    total: int | None
    next_token: str | None
    previous_token: str | None


def resource_search(
    *, access: AccessContext, query: SearchQuery, types: tuple[str, ...], scope: Q | None = None
) -> SearchResult:
    """Run a parsed search over `types` (one for a type search; several for a system search)."""
    rows = access_filter(access, Resource.objects.filter(resource_type__in=types, is_deleted=False))
    if scope is not None:
        rows = rows.filter(scope)
    for criterion in query.criteria:
        rows = rows.filter(criterion_filter(criterion, access))
    total = _total(rows, query)
    if query.summary == "count" or query.count == 0:
        return SearchResult((), (), total if total is not None else rows.count(), None, None)
    rows, ordering = apply_sort(rows, query.sort)
    backwards = False
    if query.page_token:
        keys, pk, backwards = decode_token(ordering, query.page_token)
        rows = rows.filter(after(ordering, keys, pk, backwards=backwards))
    page = list(rows.order_by(*order_by(ordering, backwards=backwards))[: query.count + 1])
    has_more = len(page) > query.count
    page = page[: query.count]
    if backwards:
        page.reverse()
    next_token = previous_token = None
    if page and (has_more or backwards):
        next_token = encode_token(ordering, page[-1], backwards=False)
    if page and (query.page_token and (not backwards or has_more)):
        previous_token = encode_token(ordering, page[0], backwards=True)
    if total is None and not query.page_token and not has_more:
        total = len(page)
    included = _included(access, query, page)
    return SearchResult(
        matches=tuple(row.as_stored() for row in page),
        included=tuple(row.as_stored() for row in included),
        total=total,
        next_token=next_token,
        previous_token=previous_token,
    )


def _total(rows: QuerySet[Resource], query: SearchQuery) -> int | None:
    if query.total == "accurate" or query.summary == "count":
        return rows.count()
    if query.total == "estimate":
        return _estimate(rows)
    return None


def _estimate(rows: QuerySet[Resource]) -> int:
    """The planner's row estimate: instant, approximate (`_total=estimate`)."""
    sql, params = rows.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    document = plan if isinstance(plan, list) else json.loads(plan)
    return int(document[0]["Plan"]["Plan Rows"])


def _included(access: AccessContext, query: SearchQuery, page: list[Resource]) -> list[Resource]:
    """_include and _revinclude (with :iterate): a query per step, never one per resource."""
    if not page or (not query.includes and not query.revincludes):
        return []
    seen = {row.pk for row in page}
    found: list[Resource] = []
    frontier = page
    for depth in range(MAX_INCLUDE_DEPTH):
        step: list[Resource] = []
        for include in query.includes:
            if depth == 0 or include.iterate:
                step += _include_targets(access, include, frontier)
        for include in query.revincludes:
            if depth == 0 or include.iterate:
                step += _revinclude_sources(access, include, frontier)
        new = [row for row in step if row.pk not in seen]
        seen.update(row.pk for row in new)
        found += _unique(new)
        frontier = new
        if not frontier:
            break
    return found


def _include_targets(access: AccessContext, include: Include, sources: list[Resource]) -> list[Resource]:
    ids = [row.pk for row in sources if row.resource_type == include.source_type]
    if not ids:
        return []
    references = ReferenceIndex.objects.filter(resource_id__in=ids, target_id__isnull=False)
    references = references.filter(param__in=_include_keys(include)).filter(**_include_narrowing(include))
    if include.target_type is not None:
        references = references.filter(target_type=include.target_type)
    targets: dict[str, set[str]] = {}
    for target_type, target_id in references.values_list("target_type", "target_id"):
        if target_type is not None and target_id is not None:
            targets.setdefault(target_type, set()).add(target_id)
    if not targets:
        return []
    wanted = Q()
    for target_type, target_ids in targets.items():
        wanted |= Q(resource_type=target_type, logical_id__in=target_ids)
    return list(access_filter(access, Resource.objects.filter(wanted, is_deleted=False)).order_by("pk"))


def _revinclude_sources(access: AccessContext, include: Include, targets: list[Resource]) -> list[Resource]:
    wanted = Q()
    for target_type in {row.resource_type for row in targets}:
        wanted |= Q(
            target_type=target_type, target_id__in=[r.logical_id for r in targets if r.resource_type == target_type]
        )
    references = ReferenceIndex.objects.filter(wanted, param__in=_include_keys(include))
    pointing = references.filter(**_include_narrowing(include)).values("resource_id")
    sources = Resource.objects.filter(pk__in=pointing, resource_type=include.source_type, is_deleted=False)
    return list(access_filter(access, sources).order_by("pk"))


def _include_keys(include: Include) -> list[int]:
    """The reference parameter's keys, or for the `*` wildcard those of every reference parameter (a narrowing's
    are its wider parameter's, every row of which the wildcard takes)."""
    if include.parameter is not None:
        return list(index_keys(include.parameter))
    reference_parameters = (p for p in parameters_for(include.source_type).values() if p.type == "reference")
    return sorted({key for parameter in reference_parameters for key in index_keys(parameter)})


def _include_narrowing(include: Include) -> dict[str, str]:
    return {} if include.parameter is None else narrowed_rows(include.parameter)


def _unique(rows: list[Resource]) -> list[Resource]:
    seen: set[int] = set()
    unique = []
    for row in rows:
        if row.pk not in seen:
            seen.add(row.pk)
            unique.append(row)
    return unique
