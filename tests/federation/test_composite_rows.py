"""A composite search value is indexed only when each of its parts has something to index."""

from __future__ import annotations

import pytest

from federation.models import QuantityIndex, TokenIndex
from federation.search.indexing import index_rows
from federation.search.registry import index_key, parameters_for

pytestmark = pytest.mark.django_db
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
    "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
}


def params_of(rows: list[tuple[object, ...]]) -> set[object]:
    return {row[0] for row in rows}


def part_key(composite: str, number: int) -> int:
    return index_key(parameters_for("Observation")[composite], f"${number}")


def test_a_complete_composite_value_keeps_each_part():
    found = index_rows("Observation", OBSERVATION)

    assert part_key("code-value-quantity", 0) in params_of(found[TokenIndex])
    assert part_key("code-value-quantity", 1) in params_of(found[QuantityIndex])


def test_a_composite_value_missing_a_part_keeps_none():
    """No valueCodeableConcept: code-value-concept could match nothing, so its code part is not written."""
    found = index_rows("Observation", OBSERVATION)
    without_value = index_rows(
        "Observation", {key: value for key, value in OBSERVATION.items() if key != "valueQuantity"}
    )

    assert part_key("code-value-concept", 0) not in params_of(found[TokenIndex])
    assert part_key("code-value-quantity", 0) not in params_of(without_value[TokenIndex])
    assert index_key(parameters_for("Observation")["code"]) in params_of(without_value[TokenIndex])
