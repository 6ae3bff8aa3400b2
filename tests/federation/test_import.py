"""Bulk import: many new resources written and indexed by COPY, all or nothing."""

from __future__ import annotations

import pytest

from consent.contracts import AccessContext
from core.outcome import FhirError
from federation.models import Resource, ResourceVersion
from federation.storage import services
from tests.federation.search_data import jp_patient, lab

SYSTEM = AccessContext.system(reason="test")


def test_imported_resources_are_stored_versioned_and_searchable(fhir):
    resources = [
        jp_patient("p1", ("山田", "花子"), ("ヤマダ", "ハナコ")),
        lab("o1", "p1", "3D045000001906202", 6.5, "%", "2026-03-01T09:00:00+09:00"),
    ]

    assert services.resources_import(access=SYSTEM, resources=resources) == 2

    read = fhir.get("/fhir/Patient/p1").json()
    assert read["meta"]["versionId"] == "1"
    assert ResourceVersion.objects.count() == 2
    found = fhir.get("/fhir/Observation?subject:Patient.name=やまだ&value-quantity=6.5").json()
    assert [entry["resource"]["id"] for entry in found["entry"]] == ["o1"]


def test_an_existing_id_fails_the_whole_import(db):
    services.resources_import(access=SYSTEM, resources=[jp_patient("p1", ("山田", "花子"), ("ヤマダ", "ハナコ"))])

    with pytest.raises(FhirError) as raised:
        services.resources_import(
            access=SYSTEM,
            resources=[
                jp_patient("p2", ("佐藤", "一郎"), ("サトウ", "イチロウ")),
                jp_patient("p1", ("山田", "花子"), ("ヤマダ", "ハナコ")),
            ],
        )

    assert raised.value.status == 409
    assert list(Resource.objects.values_list("logical_id", flat=True)) == ["p1"]


def test_an_invalid_resource_fails_the_whole_import(db):
    bad = jp_patient("p2", ("佐藤", "一郎"), ("サトウ", "イチロウ"), birthDate="someday")

    with pytest.raises(FhirError):
        services.resources_import(access=SYSTEM, resources=[jp_patient("p1", ("a", "b"), ("c", "d")), bad])

    assert Resource.objects.count() == 0
