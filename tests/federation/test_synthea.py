"""Synthea transaction bundles: every entry 201, and no urn:uuid left in stored references."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.models import Resource
from tests.conftest import FIXTURES, SHARED_DATA

VENDORED = sorted((FIXTURES / "synthea_r4").glob("*.json"))
SHARED = SHARED_DATA / "synthea-r4" / "bundles"


def references(node):
    """Every Reference.reference string inside a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def post_bundle_and_check(fhir, path: Path) -> None:
    response = fhir.post("/fhir", path.read_bytes())

    assert response.status_code == 200, response.content[:500]
    entries = response.json()["entry"]
    assert {entry["response"]["status"] for entry in entries} == {"201 Created"}
    ids = [entry["response"]["location"].split("/")[1] for entry in entries]
    stored = Resource.objects.filter(logical_id__in=ids).values_list("content", flat=True)
    assert len(stored) == len(entries)
    unresolved = [reference for content in stored for reference in references(content) if "urn:uuid:" in reference]
    assert unresolved == []


@pytest.mark.parametrize("path", VENDORED, ids=lambda path: path.stem[:24])
def test_vendored_synthea_bundle_posts_as_one_transaction(fhir, path):
    post_bundle_and_check(fhir, path)


@pytest.mark.slow
def test_all_shared_synthea_bundles_post_as_transactions(fhir):
    if not SHARED.is_dir():
        pytest.skip("../shared/data/synthea-r4 is not beside this checkout")
    paths = sorted(SHARED.glob("*.json"))
    for path in paths:
        post_bundle_and_check(fhir, path)
    assert len(paths) >= 43
