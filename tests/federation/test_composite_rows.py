"""A composite search value is indexed only when each of its parts has something to index; a composite of the
resource itself stores nothing of its own, its parts being other parameters' rows."""

from __future__ import annotations

import pytest

from federation.models import QuantityIndex, TokenIndex
from federation.search.indexing import index_rows
from federation.search.registry import index_key, parameters_for

pytestmark = pytest.mark.django_db
SYSTOLIC = {
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
}
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
    "component": [SYSTOLIC, {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}}],
}


def params_of(rows: list[tuple[object, ...]]) -> set[object]:
    return {row[0] for row in rows}


def part_key(composite: str, number: int) -> int:
    return index_key(parameters_for("Observation")[composite], f"${number}")


def groups_of(rows: list[tuple[object, ...]], key: int) -> list[object]:
    return [row[1] for row in rows if row[0] == key]


def test_a_complete_composite_value_keeps_each_part_in_its_group():
    found = index_rows("Observation", OBSERVATION)

    assert groups_of(found[TokenIndex], part_key("component-code-value-quantity", 0)) == [0]
    assert groups_of(found[QuantityIndex], part_key("component-code-value-quantity", 1)) == [0]


def test_a_composite_value_missing_a_part_keeps_none():
    """The second component has no value: component-code-value-quantity could match nothing there, so its code
    part is not written."""
    found = index_rows("Observation", OBSERVATION)

    assert len(groups_of(found[TokenIndex], part_key("component-code-value-quantity", 0))) == 1
    assert part_key("component-code-value-concept", 0) not in params_of(found[TokenIndex])
    assert index_key(parameters_for("Observation")["component-code"]) in params_of(found[TokenIndex])


@pytest.mark.parametrize("composite", ["code-value-quantity", "code-value-concept", "code-value-date"])
def test_a_composite_of_the_resource_itself_stores_no_rows_of_its_own(composite):
    found = index_rows("Observation", OBSERVATION)

    stored = set().union(*(params_of(rows) for rows in found.values()))
    assert not {part_key(composite, 0), part_key(composite, 1)} & stored
    assert index_key(parameters_for("Observation")["value-quantity"]) in stored
