"""Rewriting the Reference.reference strings of a FHIR resource (the FHIR connector's file ids, a Bundle's
fullUrls and conditional references): one walk shared by every caller.

A caller that looks at the references before it can rewrite them (the batch writer collects a batch's
conditional references, looks them up, then resolves them) locates them once with `references_located` and
replaces them with `references_replaced` by their paths: walking the resource is most of the cost, and
following a path to each reference costs next to nothing.

An object that the garbage collector does not track holds no object or array (CPython leaves a dict untracked
until an object or array is put in it, as the gc.is_tracked documentation shows): most objects of a resource
(codings, identifiers, references) are such leaves, and the walks look up their `reference` instead of
visiting each of their members, a quarter of the walk's time."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

ReferencePath = tuple[str | int, ...]  # the keys and indices from the resource down to a Reference.reference
Located = list[tuple[ReferencePath, str]]  # a resource's references with their paths, as `references_located` gives
_is_tracked = gc.is_tracked  # False for an object holding no object or array (see above); bound once, as it is hot


def references_rewritten(node: dict[str, Any], rewrite: Callable[[str], str]) -> dict[str, Any]:
    """`node` with each Reference.reference string passed through `rewrite`. Only the objects and arrays on the
    way to a changed reference are copied; the rest is shared with `node` (copying every node was a tenth of the
    batch writer's time). Exact type checks, as JSON holds plain dicts and lists: isinstance on every value cost
    a third of the walk."""
    if not _is_tracked(node):
        return _leaf_rewritten(node, rewrite)
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


def references_located(node: dict[str, Any]) -> Located:
    """Every Reference.reference string in `node` with its path, in the order `references_rewritten` meets them."""
    found: Located = []
    _locate(node, [], found)
    return found


def references_replaced(node: dict[str, Any], replacements: Located) -> dict[str, Any]:
    """`node` with the string at each path (from `references_located`) replaced. As with `references_rewritten`,
    only the objects and arrays on the way to a replaced reference are copied; the rest is shared with `node`."""
    if not replacements:
        return node
    copied = dict(node)
    copies: dict[int, Any] = {}  # by id of an object or array of `node` (alive meanwhile): its copy, made once
    original: Any
    copy: Any
    for path, new in replacements:
        original, copy = node, copied
        for key in path[:-1]:
            child = original[key]
            child_copy = copies.get(id(child))
            if child_copy is None:
                child_copy = copies[id(child)] = child.copy()
            copy[key] = child_copy
            original, copy = child, child_copy
        copy[path[-1]] = new
    return copied


def _leaf_rewritten(leaf: dict[str, Any], rewrite: Callable[[str], str]) -> dict[str, Any]:
    """`references_rewritten` of an object holding no object or array: only its own reference can change."""
    reference = leaf.get("reference")
    if type(reference) is not str:
        return leaf
    new = rewrite(reference)
    return leaf if new is reference else {**leaf, "reference": new}


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


def _locate(node: dict[str, Any], path: list[str | int], found: Located) -> None:
    """`path` is where `node` is, extended and restored on the way down (a tuple per node cost more)."""
    if not _is_tracked(node):
        reference = node.get("reference")
        if type(reference) is str:
            found.append(((*path, "reference"), reference))
        return
    for key, value in node.items():
        kind = value.__class__
        if kind is dict:
            path.append(key)
            _locate(value, path, found)
            path.pop()
        elif kind is list:
            path.append(key)
            _locate_list(value, path, found)
            path.pop()
        elif kind is str and key == "reference":
            found.append(((*path, key), value))


def _locate_list(items: list[Any], path: list[str | int], found: Located) -> None:
    for index, item in enumerate(items):
        kind = item.__class__
        if kind is dict:
            path.append(index)
            _locate(item, path, found)
            path.pop()
        elif kind is list:
            path.append(index)
            _locate_list(item, path, found)
            path.pop()
