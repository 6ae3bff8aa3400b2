"""Array literals read back by PostgreSQL as the lists they were made of."""

from __future__ import annotations

import pytest
from django.db import connection

from core.pg_arrays import bigint_array, text_array

pytestmark = pytest.mark.django_db

TEXTS = ["Patient", "NULL", "null", "", " spaced ", 'a"b', "c\\d", "\\", '"', "{}", "a,b", "{x}", "つなぎ", "tab\there"]


def read_back(literal: str, cast: str) -> list[object]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{cast}", [literal])
        return list(cursor.fetchone()[0])


@pytest.mark.parametrize("values", [[], [0], [1, -1, 2**63 - 1, -(2**63)], list(range(500))])
def test_bigint_arrays_read_back_as_given(values):
    assert read_back(bigint_array(values), "bigint[]") == values


@pytest.mark.parametrize("values", [[], TEXTS, [TEXTS[1]], ["x" * 10_000]])
def test_text_arrays_read_back_as_given_whatever_they_hold(values):
    assert read_back(text_array(values), "text[]") == values


def test_a_text_array_in_a_copy_stream_reads_back_as_given():
    """COPY escapes the literal's backslashes for its own format and unescapes them before the array is read."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE arrays (value text[])")
        with cursor.cursor.copy("COPY arrays (value) FROM STDIN") as copy:
            copy.write_row((text_array(TEXTS),))
        cursor.execute("SELECT value FROM arrays")
        assert cursor.fetchone()[0] == TEXTS
