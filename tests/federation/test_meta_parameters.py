"""_source and _profile, searched on the resource's content rather than on index rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from federation.models import Resource, UriIndex
from federation.search.meta_parameters import meta_filter
from tests.federation.test_batch_writer import plan_nodes
from tests.federation.test_search import ids
from tests.federation.test_search_results import all_matches

JP = "http://jpfhir.jp/fhir/core/StructureDefinition"
HOSPITAL = "http://hospital.example.jp/fhir/ehr"


def patient(logical_id: str, **meta: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": logical_id, **({"meta": meta} if meta else {})}


@pytest.fixture
def sources(fhir):
    resources = [
        patient("p1", profile=[f"{JP}/JP_Patient"], source="urn:tsunagi:source:hospital-a"),
        patient("p2", profile=[f"{JP}/JP_Patient_Extra", "urn:example:profile:other"]),
        patient("p3", source=f"{HOSPITAL}/v2"),
        patient("p4"),
        {"resourceType": "Organization", "id": "g1", "meta": {"source": f"{HOSPITAL}/v2"}},
    ]
    for resource in resources:
        assert fhir.put(f"/fhir/{resource['resourceType']}/{resource['id']}", resource).status_code == 201
    return fhir


def sorted_ids(fhir, query: str) -> list[str]:
    return [entry["resource"]["id"] for entry in fhir.get(f"/fhir/{query}").json().get("entry", [])]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"_profile={JP}/JP_Patient", ["p1"]),
        (f"_profile={JP}/JP_Patient,urn:example:profile:other", ["p1", "p2"]),
        (f"_profile:below={JP}", ["p1", "p2"]),
        (f"_profile:below={JP}/JP_Patient", ["p1"]),  # JP_Patient_Extra is not under JP_Patient
        (f"_profile:above={JP}/JP_Patient/v2", ["p1"]),
        (f"_profile:above={JP}", []),
        ("_profile:missing=true", ["p3", "p4"]),
        ("_profile:missing=false", ["p1", "p2"]),
        ("_source=urn:tsunagi:source:hospital-a", ["p1"]),
        ("_source:below=http://hospital.example.jp/fhir", ["p3"]),
        ("_source:below=http://hospital.example.jp/fh", []),
        (f"_source:above={HOSPITAL}/v2/extra", ["p3"]),
        ("_source:missing=true", ["p2", "p4"]),
        ("_source:missing=false", ["p1", "p3"]),
    ],
)
def test_meta_searches(sources, query, expected):
    assert ids(sources, f"Patient?{query}") == expected


def test_meta_sorts_put_the_missing_last(sources):
    assert sorted_ids(sources, "Patient?_sort=_profile") == ["p1", "p2", "p3", "p4"]
    assert sorted_ids(sources, "Patient?_sort=-_profile") == ["p2", "p1", "p3", "p4"]  # by the greatest
    assert sorted_ids(sources, "Patient?_sort=_source,_id") == ["p3", "p1", "p2", "p4"]


def test_meta_sorts_page_by_keyset(sources):
    assert all_matches(sources, "/fhir/Patient?_sort=-_profile,_id&_count=1") == ["p2", "p1", "p3", "p4"]
    assert all_matches(sources, "/fhir/Patient?_sort=_source&_count=3") == ["p3", "p1", "p2", "p4"]


def test_every_type_and_a_chain_read_the_source(sources):
    assert ids(sources, f"?_source={HOSPITAL}/v2") == ["g1", "p3"]
    sources.put("/fhir/Observation/o1", {**observation("o1"), "subject": {"reference": "Patient/p3"}})
    assert ids(sources, "Observation?subject:Patient._source:below=http://hospital.example.jp") == ["o1"]


def test_an_update_is_searched_as_it_now_reads(sources):
    sources.put("/fhir/Patient/p1", patient("p1", profile=[f"{JP}/JP_Patient_Extra"]))

    assert ids(sources, f"Patient?_profile={JP}/JP_Patient") == []
    assert ids(sources, "Patient?_source=urn:tsunagi:source:hospital-a") == []
    assert ids(sources, f"Patient?_profile={JP}/JP_Patient_Extra") == ["p1", "p2"]


def test_no_index_rows_are_written_for_them(sources):
    assert not UriIndex.objects.exists()


@pytest.mark.django_db
def test_source_and_profile_searches_probe_their_indexes():
    """On a table of 20,000 resources, with statistics, as a prepared statement's generic plan sees them. Each
    resource is padded to the size of a small real one: with rows of 100 bytes, a scan of the whole table cost
    about what the GIN index's bitmap scan did, and the planner took either from one ANALYZE sample to the next."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO federation_resource (resource_type, logical_id, version_id, last_updated, is_deleted,"
            " content, content_hash) SELECT 'Patient', n::text, 1, now(), false, jsonb_build_object('meta',"
            " jsonb_build_object('source', 'urn:source:' || n % 50, 'profile', jsonb_build_array('urn:p:' || n % 40)),"
            " 'text', jsonb_build_object('div', repeat('x', 600))), '' FROM generate_series(1, 20000) AS n"
        )
        cursor.execute("ANALYZE federation_resource")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
    assert indexes_used(meta_filter("_source", None, "urn:source:7")) == {"resource_source"}
    assert indexes_used(meta_filter("_profile", None, "urn:p:7")) == {"resource_profile"}
    assert indexes_used(meta_filter("_profile", "above", "urn:p:7")) == {"resource_profile"}


def indexes_used(condition: Any) -> set[str]:
    rows = Resource.objects.filter(condition, resource_type="Patient").values("pk")
    plan = json.loads(rows.explain(format="json"))[0]["Plan"]
    return {node["Index Name"] for node in plan_nodes(plan) if "Index Name" in node}


def observation(logical_id: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": logical_id, "status": "final", "code": {"text": "x"}}
