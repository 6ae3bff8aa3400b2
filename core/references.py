"""Rewriting the Reference.reference strings of a FHIR resource (the FHIR connector's file ids, a Bundle's
fullUrls and conditional references): one walk shared by every caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def references_rewritten(node: dict[str, Any], rewrite: Callable[[str], str]) -> dict[str, Any]:
    """`node` with each Reference.reference string passed through `rewrite`. Only the objects and arrays on the
    way to a changed reference are copied; the rest is shared with `node` (copying every node was a tenth of the
    batch writer's time). Exact type checks, as JSON holds plain dicts and lists: isinstance on every value cost
    a third of the walk."""
    copy: dict[str, Any] | None = None
    new: Any
    for key, value in node.items():
        kind = value.__class__
        if kind is dict:
            new = references_rewritten(value, rewrite)
        elif kind is list:
            new = _rewritten_list(value, rewrite)
        elif kind is str and key == "reference":
            new = rewrite(value)
        else:
            continue
        if new is not value:
            if copy is None:
                copy = dict(node)
            copy[key] = new
    return node if copy is None else copy


def references_of(node: dict[str, Any]) -> list[str]:
    """Every Reference.reference string in `node`, in the order `references_rewritten` meets them."""
    found: list[str] = []

    def collect(reference: str) -> str:
        found.append(reference)
        return reference  # unchanged: nothing is copied

    references_rewritten(node, collect)
    return found


def _rewritten_list(items: list[Any], rewrite: Callable[[str], str]) -> list[Any]:
    copy: list[Any] | None = None
    new: Any
    for index, item in enumerate(items):
        kind = item.__class__
        if kind is dict:
            new = references_rewritten(item, rewrite)
        elif kind is list:
            new = _rewritten_list(item, rewrite)
        else:
            continue
        if new is not item:
            if copy is None:
                copy = list(items)
            copy[index] = new
    return items if copy is None else copy
