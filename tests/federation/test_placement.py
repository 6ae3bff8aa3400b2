"""Every write path keeps a row's placement (owners, data dates) in step with its current content."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from consent.contracts import AccessContext
from federation.models import Resource
from federation.search.indexing import index_rows
from federation.search.placement import placement_of
from federation.storage import services
from federation.storage.batch import records_apply

pytestmark = pytest.mark.django_db
ACCESS = AccessContext.system(reason="test")


def observation(logical_id: str, subject: str, when: str | None = "2024-03-01") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": logical_id,
        "status": "final",
        "code": {"text": "体重"},
        "subject": {"reference": subject},
        "performer": [{"reference": "Patient/carer"}, {"reference": "Practitioner/doc"}],
    }
    if when:
        resource["effectiveDateTime"] = when
    return resource


def placement(resource_type: str, logical_id: str) -> tuple[list[str] | None, str | None]:
    owners, period = Resource.objects.values_list("owners", "data_period").get(
        resource_type=resource_type, logical_id=logical_id
    )
    return owners, None if period is None else str(period)


def dated_at(logical_id: str, moment: str) -> bool:
    """Whether the Observation's data period holds the instant (asked of PostgreSQL, which owns the type)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_period @> %s::timestamptz FROM federation_resource WHERE logical_id = %s", [moment, logical_id]
        )
        return bool(cursor.fetchone()[0])


def test_a_row_is_placed_with_the_patients_its_compartment_parameters_name_and_its_dates() -> None:
    services.resource_update(
        access=ACCESS, resource_type="Patient", logical_id="p1", resource={"resourceType": "Patient", "id": "p1"}
    )
    services.resource_update(
        access=ACCESS, resource_type="Observation", logical_id="o1", resource=observation("o1", "Patient/p1")
    )
    services.resource_update(
        access=ACCESS,
        resource_type="Medication",
        logical_id="m1",
        resource={"resourceType": "Medication", "id": "m1", "code": {"text": "薬"}},
    )

    assert placement("Patient", "p1") == (["p1"], None)
    owners, period = placement("Observation", "o1")
    assert owners == ["carer", "p1"]  # performer is a compartment parameter too; the Practitioner is not a Patient
    assert period is not None
    assert dated_at("o1", "2024-03-01T00:00:00+09:00")
    assert dated_at("o1", "2024-03-01T23:59:59+09:00")
    assert not dated_at("o1", "2024-03-02T00:00:01+09:00")
    assert placement("Medication", "m1") == (None, None)  # outside the Patient compartment: nobody's


def test_an_update_moves_the_row_and_a_deletion_leaves_it_with_no_owner() -> None:
    services.resource_update(
        access=ACCESS, resource_type="Observation", logical_id="o1", resource=observation("o1", "Patient/p1")
    )
    moved = {**observation("o1", "Patient/p2", when=None), "performer": []}
    services.resource_update(access=ACCESS, resource_type="Observation", logical_id="o1", resource=moved)
    assert placement("Observation", "o1") == (["p2"], None)

    services.resource_delete(access=ACCESS, resource_type="Observation", logical_id="o1")
    assert placement("Observation", "o1") == ([], None)


def test_the_batch_writer_places_new_and_changed_rows_as_the_single_writes_do() -> None:
    def put(resource: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"resource": resource, "request": {"method": "PUT", "url": f"Observation/{resource['id']}"}}]

    records_apply(access=ACCESS, records=[put(observation("o1", "Patient/p1")), put(observation("o2", "Patient/p3"))])
    records_apply(access=ACCESS, records=[put({**observation("o1", "Patient/p2"), "performer": []})])

    for logical_id in ("o1", "o2"):
        row = Resource.objects.get(resource_type="Observation", logical_id=logical_id)
        expected = placement_of("Observation", logical_id, index_rows("Observation", row.content))
        owners, period = placement("Observation", logical_id)
        assert owners == expected.owners
        assert (period is None) == (expected.data_period is None)
    assert placement("Observation", "o1")[0] == ["p2"]


def test_a_bulk_import_places_its_rows() -> None:
    services.resources_import(access=ACCESS, resources=[observation("o1", "Patient/p1", when="2020-01-01")])
    owners, period = placement("Observation", "o1")
    assert owners == ["carer", "p1"]
    assert period is not None
    assert dated_at("o1", "2020-01-01T12:00:00+09:00")
