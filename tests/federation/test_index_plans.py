"""Each form of token and string search probes an index of its table, on a table large enough that a scan
would be cheaper if the index did not fit: the indexes were cut to the fewest that serve every form."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Q

from federation.models import SearchIndex, StringIndex, TokenIndex
from federation.search import compiler
from federation.search.hashing import hash64
from tests.federation.test_batch_writer import plan_nodes

pytestmark = pytest.mark.django_db
PARAM = 3


@pytest.fixture
def filled():
    """50,000 token and string rows over seventy parameters, a thousand systems and codes, and statistics. A
    parameter holds 1 row in 70: with 1 in 7, a probe of one parameter's entries for a system (`urn:x|`) read a
    seventh of the index, and PostgreSQL 18 once took a scan of the narrow table for it instead."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO federation_tokenindex (resource_id, param, system, code) "
            "SELECT n, n % 70, CASE WHEN n % 10 = 0 THEN NULL ELSE n % 997 END, n % 991 "
            "FROM generate_series(1, 50000) AS n"
        )
        cursor.execute(
            "INSERT INTO federation_stringindex (resource_id, param, normalized, exact) "
            "SELECT n, n % 70, md5(n::text), n FROM generate_series(1, 50000) AS n"
        )
        cursor.execute("ANALYZE federation_tokenindex")
        cursor.execute("ANALYZE federation_stringindex")


def indexes_used(model: type[SearchIndex], condition: Q) -> set[str]:
    plan = model._default_manager.filter(condition, param=PARAM).values("resource_id").explain(format="json")
    return {node["Index Name"] for node in plan_nodes(json.loads(plan)[0]["Plan"]) if "Index Name" in node}


@pytest.mark.parametrize(
    ("token", "index"),
    [
        ("1234", "token_value"),
        ("urn:x|1234", "token_value"),
        ("|1234", "token_value"),  # system IS NULL
        ("urn:x|", "token_value"),  # the parameter's entries, filtered by system in the index
    ],
)
def test_each_token_form_probes_an_index(filled, token, index):
    assert indexes_used(TokenIndex, compiler._token(token)) == {index}


def test_of_type_probes_the_value_index(filled):
    assert indexes_used(TokenIndex, compiler._of_type("urn:v2-0203|MR|1234")) == {"token_value"}


@pytest.mark.parametrize("matcher", [compiler._string_exact, compiler._string_prefix])
def test_exact_and_prefix_strings_probe_the_prefix_index(filled, matcher):
    assert indexes_used(StringIndex, matcher("Yamada")) == {"string_prefix"}


def test_an_exact_string_is_its_normalized_form_as_stored_and_its_hash():
    assert compiler._string_exact("ヤマダ") == Q(normalized="やまだ", exact=hash64("ヤマダ"))
    long = "A" * 300  # the index keeps the first 255 characters of the normalized form
    assert compiler._string_exact(long) == Q(normalized="a" * 255, exact=hash64(long))
