"""Identifier keys: criteria read without the query parser give what the parser gives."""

from __future__ import annotations

import pytest

from federation.search.hashing import hash64
from federation.search.query import query_pairs
from federation.storage import claims
from federation.storage.claims import _pairs, identifier_key

CRITERIA = [
    "identifier=urn:x|1",
    "identifier=urn:x|a\\|b\\,c",  # escaped separators
    "identifier=urn:x|%E3%81%A4",  # encoded: つ
    "identifier=urn:x|a+b",  # a space
    "identifier=urn:x|1&identifier=urn:x|2",
    "identifier=urn:x|1&",
    "identifier",
    "identifier=",
    "identifier==urn:x|1",
    "identifie%72=urn:x|1",
    "family=山田",
    "",
    "=",
    "identifier=urn:x|1,urn:x|2",
    "identifier=|1",
]


@pytest.mark.parametrize("criteria", CRITERIA)
def test_criteria_are_split_as_the_query_parser_splits_them(criteria):
    assert _pairs(criteria) == query_pairs(criteria)


@pytest.mark.django_db
def test_the_keys_are_those_the_query_parser_gives(monkeypatch):
    identifier_key.cache_clear()
    fast = [identifier_key("Patient", criteria) for criteria in CRITERIA]
    identifier_key.cache_clear()
    monkeypatch.setattr(claims, "_pairs", query_pairs)
    assert [identifier_key("Patient", criteria) for criteria in CRITERIA] == fast
    identifier_key.cache_clear()
    assert fast[:4] == [("Patient", hash64("urn:x"), hash64(value)) for value in ("1", "a|b,c", "つ", "a b")]
