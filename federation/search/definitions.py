"""Stored SearchParameter resources become search parameters through a reindex.

Collecting compares the stored SearchParameter resources (status active) with the definitions the
engine knows: new or changed ones wait for the reindex that indexes them; ones deleted or retired
are dropped at once. A definition that cannot be served is reported, never half-used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from federation.fhir.spec import served_resource_types
from federation.models import Resource, SearchParameterDefinition
from federation.search.fhirpath import compile_expression
from federation.search.registry import ABSTRACT_BASES, SERVED_TYPES, refresh_registry


@dataclass(frozen=True)
class Collected:
    pending: tuple[str, ...]  # urls waiting for a reindex
    resource_types: frozenset[str]  # what that reindex must cover
    problems: tuple[str, ...]  # stored definitions that cannot be served, and why


@transaction.atomic
def search_parameters_collect() -> Collected:
    stored: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for content in Resource.objects.filter(resource_type="SearchParameter", is_deleted=False).values_list(
        "content", flat=True
    ):
        if content is None or content.get("status") != "active":
            continue
        problem = _problem(content)
        if problem:
            problems.append(f"SearchParameter/{content.get('id')}: {problem}")
        else:
            stored[content["url"]] = content
    known = {item.url: item for item in SearchParameterDefinition.objects.all()}
    SearchParameterDefinition.objects.filter(url__in=set(known) - set(stored)).delete()
    types: set[str] = set()
    for url, definition in stored.items():
        current = known.get(url)
        if current is None or current.definition != definition:
            SearchParameterDefinition.objects.update_or_create(
                url=url, defaults={"definition": definition, "active": False}
            )
            types |= _bases(definition)
    pending = tuple(SearchParameterDefinition.objects.filter(active=False).values_list("url", flat=True))
    for definition in SearchParameterDefinition.objects.filter(active=False).values_list("definition", flat=True):
        types |= _bases(definition)
    refresh_registry()
    return Collected(pending=pending, resource_types=frozenset(types), problems=tuple(problems))


def search_parameters_activate(urls: list[str]) -> None:
    """After their reindex: the definitions become searchable."""
    SearchParameterDefinition.objects.filter(url__in=urls).update(active=True)
    refresh_registry()


def _bases(definition: dict[str, Any]) -> set[str]:
    bases = set(definition.get("base", ()))
    return set(served_resource_types()) if bases & ABSTRACT_BASES else bases & served_resource_types()


def _problem(definition: dict[str, Any]) -> str | None:
    if not definition.get("url") or not definition.get("code"):
        return "url and code are required"
    if definition.get("type") not in SERVED_TYPES:
        return f"type '{definition.get('type')}' cannot be searched"
    if not definition.get("expression"):
        return "an expression is required"
    if not _bases(definition):
        return "no base is a resource type this server stores"
    for base in _bases(definition):
        try:
            compile_expression(definition["expression"], base)
        except Exception as error:  # fhirpathpy raises many kinds on a bad expression
            return f"the expression does not compile for {base}: {type(error).__name__}"
    return None
