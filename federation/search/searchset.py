"""The searchset Bundle: what a search answers, on the REST API and inside a batch or transaction."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from core.outcome import Issue, operation_outcome
from federation.search.query import SearchQuery
from federation.search.searching import SearchResult
from federation.search.shaping import shape

PAGE_TOKEN = "_page_token"  # noqa: S105 - a query parameter name, not a secret


def searchset_bundle(*, base: str, path: str, query: SearchQuery, result: SearchResult) -> dict[str, Any]:
    """The searchset Bundle of a search at `base/path`: matches, includes, outcome, paging links."""
    endpoint = f"{base}/{path}" if path else base
    self_url = endpoint + (f"?{urlencode(query.kept)}" if query.kept else "")
    links = [{"relation": "self", "url": self_url}]
    for relation, token in (("next", result.next_token), ("previous", result.previous_token)):
        if token:
            links.append({"relation": relation, "url": f"{endpoint}?{urlencode([*query.kept, (PAGE_TOKEN, token)])}"})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = links
    entries = [
        {
            "fullUrl": f"{base}/{version.relative_url}",
            "resource": shape(version.content or {}, summary=query.summary, elements=query.elements),
            "search": {"mode": "match"},
        }
        for version in result.matches
    ]
    entries += [
        {
            "fullUrl": f"{base}/{version.relative_url}",
            "resource": shape(version.content or {}, summary=query.summary, elements=()),
            "search": {"mode": "include"},
        }
        for version in result.included
    ]
    if query.unknown:
        warning = Issue(
            "not-supported",
            f"Ignored unknown search parameters: {', '.join(query.unknown)}.",
            severity="warning",
        )
        entries.append({"resource": operation_outcome([warning]), "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return bundle
