"""PostgreSQL array literals (`{1,2,3}`, `{"a","b"}`) of Python lists, for `%s::bigint[]` / `%s::text[]`
parameters and array columns of a COPY.

psycopg adapts a list element by element in Python: about 2 µs an element, a millisecond for each of the
arrays of a 500-resource ingest batch (several per batch). Joining the literal is a tenth of that, and the
server parses it as it parses psycopg's own text."""

from __future__ import annotations

from collections.abc import Iterable


def bigint_array(values: Iterable[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def text_array(values: Iterable[str]) -> str:
    """Each element quoted, with its backslashes and double quotes escaped: any text, `NULL` and `{}` too."""
    return "{" + ",".join(['"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values]) + "}"
