"""Claims on the criteria of conditional creates, so two writers never create the same resource twice.

A conditional create (If-None-Exist, or a conditional update that finds nothing) searches, then inserts: two
writers doing that at once would both insert. Whoever is about to create takes a transaction-scoped advisory
lock on the criteria and looks again; the other waits for the commit and then finds the resource. The batch
writer claims `identifier=system|value` under the same key, so it and the one-by-one path exclude each other.
"""

from __future__ import annotations

import functools

from django.db import connection

from federation.search import values
from federation.search.hashing import hash64
from federation.search.query import query_pairs, split_values, unescape
from federation.search.registry import parameters_for

Key = tuple[str, int, int]  # (resource type, hashes of an identifier's system and value, as the token index keeps them)


@functools.lru_cache(maxsize=4096)  # a batch asks for the same criteria once per entry and reference
def identifier_key(resource_type: str, criteria: str) -> Key | None:
    """The key of `identifier=system|value` (one value, both parts given); None for any other criteria."""
    pairs = _pairs(criteria)
    if len(pairs) != 1 or pairs[0][0] != "identifier":
        return None
    parameter = parameters_for(resource_type).get("identifier")
    alternatives = split_values(pairs[0][1])
    if parameter is None or parameter.type != "token" or len(alternatives) != 1:
        return None
    parts = split_values(alternatives[0], "|")
    if len(parts) != 2:
        return None
    system, code = _unescaped(parts[0]), _unescaped(parts[1])
    if not system or not code:
        return None
    token = values.identifier_key(system, code)  # what the token index keeps for the identifier
    assert token.system is not None
    return (resource_type, token.system, token.code)


def _pairs(criteria: str) -> list[tuple[str, str]]:
    """`query_pairs`, without its parser for criteria that need none: one `name=value` with nothing to decode
    (no `&`, `+` or `%`) is its own pair. That is how a connector's identifier queries mostly come, each new:
    parsing them was a third of a new key's cost."""
    if "=" not in criteria or "&" in criteria or "+" in criteria or "%" in criteria:
        return query_pairs(criteria)
    name, _, value = criteria.partition("=")
    return [(name, value)]


def _unescaped(value: str) -> str:
    """`unescape`, whose regular expression substitution is most of a new key's cost, only when escaped."""
    return unescape(value) if "\\" in value else value


def identifier_claim_key(key: Key) -> int:
    return hash64("create-claim", key[0], str(key[1]), str(key[2]))


def criteria_claim_key(resource_type: str, criteria: str) -> int:
    """The lock key of a conditional create's criteria: per identifier when that is all they say."""
    key = identifier_key(resource_type, criteria)
    return identifier_claim_key(key) if key is not None else hash64("create-claim", resource_type, criteria)


def creation_claim(resource_type: str, criteria: str) -> None:
    """Wait until no other transaction may create under these criteria (held until this one ends)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [criteria_claim_key(resource_type, criteria)])
