"""Index extraction keeps giving the same rows: a digest of each fixture resource's rows, checked in.

Extraction is tuned for speed (skipping parameters, caching keys); this pins what it produces, row for
row, over the vendored FHIR examples and Synthea bundles (every resource in them, contained and
Bundle entries too). Rows are compared as a set, dates as UTC instants.

A deliberate change (a new search parameter, a fix to a value's keys) changes digests: regenerate
with `TSUNAGI_UPDATE_INDEX_SNAPSHOT=1 pytest tests/federation/test_index_snapshot.py` and say why in
the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core import fhir_json
from federation.models import QuantityIndex, ReferenceIndex, Resource, StringIndex, TokenIndex
from federation.search.indexing import COLUMNS, INDEX_MODELS, IndexBatch
from federation.search.values import QuantityKey, ReferenceKey, StringKey, TokenKey
from tests.conftest import FIXTURES

SNAPSHOT = Path(__file__).with_name("index_rows_snapshot.json")
SOURCES = (FIXTURES / "fhir_r4_examples", FIXTURES / "synthea_r4")

pytestmark = pytest.mark.django_db


def resources(node: Any) -> Iterator[dict[str, Any]]:
    """Every resource in a JSON value, in document order."""
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str):
            yield node
        for value in node.values():
            yield from resources(value)
    elif isinstance(node, list):
        for item in node:
            yield from resources(item)


def rows_digest(resource: dict[str, Any]) -> str:
    batch = IndexBatch()
    batch.replace(Resource(pk=1, resource_type=resource["resourceType"], content=resource), is_new=True)
    rows = sorted(
        json.dumps([model.__name__, *(_plain(value) for value in row)], ensure_ascii=False)
        for model in INDEX_MODELS
        for row in batch.rows_of(model)
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def current_digests() -> dict[str, str]:
    digests = {}
    for source in SOURCES:
        for path in sorted(source.rglob("*.json")):
            name = path.relative_to(FIXTURES).as_posix()
            for number, resource in enumerate(resources(fhir_json.loads(path.read_bytes()))):
                digests[f"{name}#{number} {resource['resourceType']}/{resource.get('id', '')}"] = rows_digest(resource)
    return digests


def test_fixture_resources_index_to_the_rows_they_did(settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # dates without a zone are read in it
    digests = current_digests()
    if os.environ.get("TSUNAGI_UPDATE_INDEX_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(digests, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))

    changed = sorted(name for name in expected.keys() & digests.keys() if expected[name] != digests[name])
    assert changed == [], f"{len(changed)} resources index differently, e.g. {changed[:5]}"
    assert sorted(digests.keys() - expected.keys()) == []
    assert sorted(expected.keys() - digests.keys()) == []


def test_value_keys_are_their_tables_columns_in_order():
    """The row builders append `(param, group) + key`: a key's fields must be its table's value columns."""
    assert TokenKey._fields == COLUMNS[TokenIndex]
    assert StringKey._fields == COLUMNS[StringIndex]
    assert QuantityKey._fields == COLUMNS[QuantityIndex]
    assert ReferenceKey._fields == COLUMNS[ReferenceIndex]
