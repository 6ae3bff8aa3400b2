"""The batch writer gives each record what running it alone would: same matches, versions, errors and index."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from psycopg import pq

from consent.contracts import AccessContext
from core.fhir_json import canonical
from core.outcome import FhirError
from federation.models import Resource, ResourceVersion, TokenIndex
from federation.search import placement, registry
from federation.search.selectors import resources_matching
from federation.storage import services
from federation.storage.batch import (
    ANY_LIVE_OF_PAIRS,
    TOKENS_OF_PAIRS,
    BatchConflictError,
    EntryOutcome,
    batch_plan,
    batch_write,
    records_apply,
)
from federation.storage.bundles import transaction_entries_apply
from federation.storage.rows import content_hash

pytestmark = pytest.mark.django_db
SYSTEM = "urn:oid:1.2.392.100495.20.3.51.11234567890"
ACCESS = AccessContext.system(reason="test")


def patient(number: str, family: str = "山田") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYSTEM, "value": number}],
        "name": [{"family": family}],
    }


def put(resource: dict[str, Any], number: str, full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}?identifier={SYSTEM}|{number}"},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def observation(number: str, subject: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "identifier": [{"system": SYSTEM, "value": number}],
        "status": "final",
        "code": {"text": "体重"},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "kg"},
    }


def live(resource_type: str) -> list[Resource]:
    return list(Resource.objects.filter(resource_type=resource_type, is_deleted=False).order_by("id"))


def test_records_in_one_batch_see_each_other_and_keep_every_version():
    outcomes = records_apply(
        access=ACCESS,
        records=[
            [put(patient("1"), "1", "urn:uuid:p1"), put(observation("o1", "urn:uuid:p1", 60), "o1")],
            [put(patient("1", family="佐藤"), "1")],  # the same person, corrected: a new version
            [put(observation("o2", f"Patient?identifier={SYSTEM}|1", 61), "o2")],  # found by a conditional reference
            [put(patient("1", family="佐藤"), "1")],  # the same again: nothing changes
        ],
    )
    assert outcomes is not None
    assert [
        [(o.method, o.created, o.changed) for o in outcome] for outcome in outcomes if isinstance(outcome, list)
    ] == [
        [("PUT", True, True), ("PUT", True, True)],
        [("PUT", False, True)],
        [("PUT", True, True)],
        [("PUT", False, False)],
    ]
    (stored_patient,) = live("Patient")
    assert stored_patient.version_id == 2
    assert stored_patient.content["name"] == [{"family": "佐藤"}]
    assert stored_patient.content["meta"]["versionId"] == "2"
    versions = ResourceVersion.objects.filter(resource=stored_patient).order_by("id")
    # The first version went by COPY with its own text; the second is copied from the current row by the server.
    assert [(v.version_id, v.method, v.content["name"]) for v in versions] == [
        (1, "PUT", [{"family": "山田"}]),
        (2, "PUT", [{"family": "佐藤"}]),
    ]
    assert versions[1].content == stored_patient.content
    subjects = {row.content["subject"]["reference"] for row in live("Observation")}
    assert subjects == {f"Patient/{stored_patient.logical_id}"}
    # The index holds the current content only: search finds the corrected name, not the first.
    assert resources_matching(access=ACCESS, resource_type="Patient", criteria="family=佐藤")
    assert not resources_matching(access=ACCESS, resource_type="Patient", criteria="family=山田")
    assert resources_matching(
        access=ACCESS, resource_type="Observation", criteria=f"subject=Patient/{stored_patient.logical_id}"
    )


def test_a_refused_record_leaves_no_trace_and_the_others_are_stored():
    broken = {**observation("o9", "urn:uuid:p2", 1), "valueQuantity": {"value": "heavy"}}
    outcomes = records_apply(
        access=ACCESS,
        records=[
            [put(patient("2"), "2", "urn:uuid:p2"), put(broken, "o9")],
            [put(observation("o3", f"Patient?identifier={SYSTEM}|2", 1), "o3")],  # the patient was never stored
            [put(patient("3"), "3")],
        ],
    )
    assert outcomes is not None
    refused, unresolved, stored = outcomes
    assert isinstance(refused, FhirError)
    assert refused.status == 400
    assert "Bundle.entry[1]" in str(refused)
    assert isinstance(unresolved, FhirError)
    assert unresolved.status == 412
    assert isinstance(stored, list)
    assert [row.content["identifier"][0]["value"] for row in live("Patient")] == ["3"]
    assert not live("Observation")


def organization(name: str) -> dict[str, Any]:
    resource = {"resourceType": "Organization", "identifier": [{"system": SYSTEM, "value": "org"}], "name": name}
    return {
        "resource": resource,
        "request": {"method": "POST", "url": "Organization", "ifNoneExist": f"identifier={SYSTEM}|org"},
    }


MIXED_RECORDS = [
    [put(patient("4"), "4", "urn:uuid:p4"), put(observation("o4", "urn:uuid:p4", 70), "o4")],
    [organization("薬局")],
    [organization("別名")],  # a conditional create that matches: nothing is written
    [{"request": {"method": "DELETE", "url": f"Observation?identifier={SYSTEM}|o4"}}],
    [{"request": {"method": "DELETE", "url": f"Observation?identifier={SYSTEM}|o4"}}],  # nothing left to delete
    [put(observation("o4", f"Patient?identifier={SYSTEM}|4", 71), "o4")],  # a new Observation, not the deleted one
    [put(patient("8"), "8"), put({**patient("4"), "birthDate": "2024-02-30"}, "4")],  # refused as a whole
]


def one_at_a_time(records: list[list[dict[str, Any]]]) -> list[Any]:
    shapes: list[Any] = []
    for entries in records:
        try:
            with transaction.atomic():
                results = transaction_entries_apply(access=ACCESS, entries=entries)
        except FhirError as error:
            shapes.append(error.status)
            continue
        shapes.append([None if r is None else (r.created, r.changed) for r in results])
    return shapes


def batched(records: list[list[dict[str, Any]]]) -> list[Any]:
    outcomes = records_apply(access=ACCESS, records=records)
    assert outcomes is not None
    return [
        outcome.status if isinstance(outcome, FhirError) else [_shape(entry) for entry in outcome]
        for outcome in outcomes
    ]


def _shape(outcome: EntryOutcome) -> tuple[bool, bool] | None:
    return None if outcome.version_url is None else (outcome.created, outcome.changed)


def stored_state() -> list[tuple[Any, ...]]:
    """Everything but ids and times: types, versions, methods, contents without server fields."""
    rows = []
    for version in ResourceVersion.objects.order_by("id"):
        content = dict(version.content or {})
        content.pop("id", None)
        content.pop("meta", None)
        for key in ("subject",):
            if key in content:
                content[key] = Resource.objects.get(
                    resource_type="Patient", logical_id=content[key]["reference"].split("/")[1]
                ).content["identifier"]
        rows.append((version.resource_type, version.version_id, version.method, content))
    return rows


def test_outcomes_and_stored_versions_match_running_the_records_one_at_a_time():
    savepoint = transaction.savepoint()
    alone = one_at_a_time(MIXED_RECORDS), stored_state()
    transaction.savepoint_rollback(savepoint)
    assert not Resource.objects.exists()
    together = batched(MIXED_RECORDS), stored_state()
    assert together == alone
    assert together[0][-1] == 400


def test_references_resolve_as_one_at_a_time_and_the_first_that_does_not_is_the_one_named():
    """References are located once, while the batch collects the identifiers it looks up, and resolved from
    there: a reference to a resource an earlier record of the batch stored resolves, and of two that do not,
    the first in the resource is the one the error names, as when the record runs alone."""
    stored = [put(patient("21"), "21")]
    named = [put(observation("o21", f"Patient?identifier={SYSTEM}|21", 60), "o21")]
    unnamed = {
        **observation("o22", f"Patient?identifier={SYSTEM}|22", 61),
        "performer": [{"reference": "urn:uuid:nowhere"}],
    }
    records = [stored, named, [put(unnamed, "o22")], [put(unnamed, "o23")]]  # the same references, twice

    savepoint = transaction.savepoint()
    alone = one_at_a_time(records), stored_state()
    transaction.savepoint_rollback(savepoint)
    outcomes = records_apply(access=ACCESS, records=records)
    assert outcomes is not None
    assert [o.status if isinstance(o, FhirError) else [_shape(e) for e in o] for o in outcomes] == alone[0]
    assert stored_state() == alone[1]
    with pytest.raises(FhirError) as alone_error, transaction.atomic():
        transaction_entries_apply(access=ACCESS, entries=records[2])
    assert "Patient?identifier" in str(alone_error.value)
    assert [str(refused) for refused in outcomes[2:]] == [str(alone_error.value)] * 2


def test_a_concurrent_update_of_a_row_the_batch_read_is_a_conflict():
    services.resource_create(access=ACCESS, resource=patient("5"))
    plan = batch_plan(access=ACCESS, records=[[put(patient("5", family="後藤"), "5")]])
    assert plan is not None
    (stored,) = live("Patient")
    services.resource_update(
        access=ACCESS,
        resource_type="Patient",
        logical_id=stored.logical_id,
        resource={**patient("5", "伊藤"), "id": stored.logical_id},
    )
    with pytest.raises(BatchConflictError), transaction.atomic():
        batch_write(plan=plan)
    assert live("Patient")[0].content["name"] == [{"family": "伊藤"}]


def test_a_resource_created_meanwhile_under_the_same_identifier_is_a_conflict_not_a_duplicate():
    plan = batch_plan(access=ACCESS, records=[[put(patient("6"), "6")]])
    assert plan is not None
    services.resource_create(access=ACCESS, resource=patient("6"))
    with pytest.raises(BatchConflictError), transaction.atomic():
        batch_write(plan=plan)
    assert len(live("Patient")) == 1


def test_other_criteria_are_left_to_the_one_by_one_path():
    by_name = {"resource": patient("7"), "request": {"method": "PUT", "url": "Patient?family=山田"}}
    assert records_apply(access=ACCESS, records=[[by_name]]) is None
    assert not Resource.objects.exists()
    assert not TokenIndex.objects.exists()


def test_the_index_holds_the_last_version_a_batch_wrote_and_nothing_of_a_deleted_resource():
    """Index rows are extracted while the batch is planned: a later version replaces them, a deletion drops them."""
    outcomes = records_apply(
        access=ACCESS,
        records=[
            [put(patient("5"), "5"), put(patient("6"), "6")],
            [put(patient("5", family="佐藤"), "5")],
            [{"request": {"method": "DELETE", "url": f"Patient?identifier={SYSTEM}|6"}}],
        ],
    )
    assert outcomes is not None
    assert not any(isinstance(outcome, FhirError) for outcome in outcomes)

    def found(criteria: str) -> list[str]:
        return [
            match.logical_id for match in resources_matching(access=ACCESS, resource_type="Patient", criteria=criteria)
        ]

    (five,) = live("Patient")
    assert found("family=佐藤") == [five.logical_id]
    assert found("family=山田") == []
    assert found(f"identifier={SYSTEM}|6") == []
    deleted = Resource.objects.get(resource_type="Patient", is_deleted=True)
    assert not TokenIndex.objects.filter(resource_id=deleted.pk).exists()


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(found for child in node.get("Plans", ()) for found in plan_nodes(child))]


@pytest.mark.parametrize("query", [TOKENS_OF_PAIRS, ANY_LIVE_OF_PAIRS])
def test_the_identifier_queries_probe_the_token_index_once_per_pair_whatever_the_planner_estimates(query):
    """A batch's identifiers are looked up pair by pair in the index, never by scanning the whole token table:
    with statistics that make each pair look like hundreds of rows (as a store of millions of rows does,
    where each pair holds one), a join of the pairs with the table was planned as a hash join over a scan
    of all of it, seconds a batch at 10,000 people."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO federation_tokenindex (resource_id, param, system, code) "
            "SELECT n, n % 7, n % 997, n % 991 FROM generate_series(1, 200000) AS n"
        )
        cursor.execute("ANALYZE federation_tokenindex")
        pairs = [[3] * 199, [5] * 199, list(range(1000, 1199))]  # one parameter and system, codes nothing holds
        cursor.execute("EXPLAIN (FORMAT JSON) " + query, pairs)
        ((plan,),) = cursor.fetchall()
    nodes = plan_nodes(plan[0]["Plan"])
    token_scans = [node for node in nodes if node.get("Relation Name") == "federation_tokenindex"]
    assert not [node for node in token_scans if "Seq Scan" in node["Node Type"]]
    assert [node for node in nodes if node.get("Index Name") == "token_value"]  # by (param, code, system)


def test_a_search_registry_check_due_while_a_batch_writes_does_not_stall_it(monkeypatch):
    """Placing a row reads the search registry, which looks at the stored parameters every REFRESH_SECONDS: a
    query sent while a COPY of the same connection is open would wait for it forever (an ingest once stalled
    so), so rows are placed before any COPY starts. Here any such query fails the test instead of hanging it."""
    monkeypatch.setattr(registry, "REFRESH_SECONDS", 0.0)  # every registry read looks at the database
    placement.date_key_of.cache_clear()  # as in a worker placing its first row of a type
    with connection.execute_wrapper(_refuse_queries_inside_copy):
        created = records_apply(access=ACCESS, records=[[put(patient("1"), "1")]])
        placement.date_key_of.cache_clear()
        changed = records_apply(access=ACCESS, records=[[put(patient("1", family="佐藤"), "1")]])
    assert created is not None
    assert changed is not None
    assert [row.content["name"] for row in live("Patient")] == [[{"family": "佐藤"}]]


def _refuse_queries_inside_copy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    status = connection.connection.pgconn.transaction_status
    assert status != pq.TransactionStatus.ACTIVE, f"a query was sent while a COPY was open: {sql[:80]}"
    return execute(sql, params, many, context)


def provenance_of(outcomes: list[Any]) -> list[list[dict[str, Any]]]:
    """A record creating a Provenance that names every version the records wrote."""
    targets = [{"reference": entry.version_url} for outcome in outcomes for entry in outcome]
    resource = {"resourceType": "Provenance", "target": targets, "recorded": "2026-11-27T00:00:00Z", "agent": []}
    return [[{"resource": resource, "request": {"method": "POST", "url": "Provenance"}}]]


def test_records_planned_after_a_batch_are_written_in_the_same_writes_and_name_its_versions(monkeypatch):
    writes = []
    monkeypatch.setattr("federation.storage.batch._write", lambda state, now: writes.append(len(state.versions)))
    records = [[put(patient("1"), "1")], [put(patient("2"), "2")]]

    outcomes = records_apply(access=ACCESS, records=records, then=provenance_of)

    assert outcomes is not None
    assert len(outcomes) == 3
    assert writes == [3]  # two Patients and their Provenance, in one write
    provenance = outcomes[2]
    assert isinstance(provenance, list)
    assert provenance[0].created


def test_a_provenance_planned_after_a_batch_is_stored_naming_the_versions_it_wrote():
    outcomes = records_apply(access=ACCESS, records=[[put(patient("1"), "1")]], then=provenance_of)

    assert outcomes is not None
    (stored,) = live("Provenance")
    (patient_row,) = live("Patient")
    assert stored.content["target"] == [{"reference": f"Patient/{patient_row.logical_id}/_history/1"}]
    written = outcomes[1]
    assert isinstance(written, list)
    assert [entry.version_url for entry in written] == [f"Provenance/{stored.logical_id}/_history/1"]


def test_records_planned_after_a_batch_may_not_name_what_it_did_not_look_up():
    with pytest.raises(ValueError, match="nothing it has not looked up"):
        records_apply(access=ACCESS, records=[[put(patient("1"), "1")]], then=lambda _: [[put(patient("2"), "2")]])


def test_a_float_made_by_python_code_is_hashed_as_simplejson_writes_it():
    """JSON text is read as Decimal, so only Python code makes a float, and orjson writes some floats otherwise
    than simplejson (1e-05 as 0.00001): the fast check leaves a float to the model, and a new resource it did not
    vouch for is written the exact way."""
    weight = {**observation("o7", f"Patient?identifier={SYSTEM}|7", 1), "valueQuantity": {"value": 1e-05, "unit": "g"}}
    outcomes = records_apply(access=ACCESS, records=[[put(patient("7"), "7")], [put(weight, "o7")]])
    assert outcomes is not None
    assert not any(isinstance(outcome, FhirError) for outcome in outcomes)
    (stored,) = live("Observation")
    as_sent = {**stored.content, "valueQuantity": {"value": 1e-05, "unit": "g"}}  # jsonb gave it back as a Decimal
    assert stored.content_hash == content_hash(as_sent)
    assert b"1e-05" in canonical(as_sent).encode()
