"""Reindex: rebuilds the index, shows progress, resumes after an interruption."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from consent.contracts import AccessContext
from federation.models import ReindexJob, ReindexStatus, TokenIndex
from federation.search.reindex import reindex_job_create, reindex_job_run
from federation.storage import services
from tests.federation.search_data import jp_patient

SYSTEM = AccessContext.system(reason="test")


@pytest.fixture
def people(db):
    services.resources_import(
        access=SYSTEM,
        resources=[jp_patient(f"p{n}", ("山田", f"{n}郎"), ("ヤマダ", f"{n}ロウ"), gender="male") for n in range(5)],
    )


def wipe_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM federation_tokenindex")


def test_reindex_command_rebuilds_the_index_with_progress(people, fhir, capsys):
    rows_before = TokenIndex.objects.count()
    wipe_index()
    assert fhir.get("/fhir/Patient?gender=male").json().get("entry") is None

    call_command("reindex", "--batch-size", "2", stdout=StringIO())

    assert TokenIndex.objects.count() == rows_before
    assert len(fhir.get("/fhir/Patient?gender=male").json()["entry"]) == 5
    assert "5/5 (100%)" in capsys.readouterr().err


def test_an_interrupted_job_resumes_after_its_checkpoint(people):
    rows_before = TokenIndex.objects.count()
    job, _ = reindex_job_create(resource_types=["Patient"])

    def stop_after_first_batch(current: ReindexJob) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reindex_job_run(job_id=job.pk, batch_size=2, progress=stop_after_first_batch)
    job.refresh_from_db()
    assert (job.status, job.processed) == (ReindexStatus.FAILED, 2)

    finished = reindex_job_run(job_id=job.pk, batch_size=2)

    assert (finished.status, finished.processed, finished.total) == (ReindexStatus.DONE, 5, 5)
    assert TokenIndex.objects.count() == rows_before


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="unknown resource type"):
        call_command("reindex", "--type", "Unicorn")
    with pytest.raises(CommandError, match="no reindex job"):
        call_command("reindex", "--resume", "999999")


SEARCH_PARAMETER = {
    "resourceType": "SearchParameter",
    "id": "patient-nickname",
    "url": "http://tsunagi.example.jp/fhir/SearchParameter/patient-nickname",
    "name": "PatientNickname",
    "status": "active",
    "description": "A patient's nickname (name with use nickname)",
    "code": "nickname",
    "base": ["Patient"],
    "type": "string",
    "expression": "Patient.name.where(use='nickname')",
}


def test_a_posted_search_parameter_is_searchable_after_a_reindex(fhir, transactional_db):
    nicknamed = jp_patient("n1", ("山田", "花子"), ("ヤマダ", "ハナコ"))
    nicknamed["name"].append({"use": "nickname", "text": "はなちゃん"})
    fhir.put("/fhir/Patient/n1", nicknamed)
    assert fhir.post("/fhir/SearchParameter", SEARCH_PARAMETER).status_code == 201

    before = fhir.get("/fhir/Patient?nickname=はな", headers={"Prefer": "handling=strict"})
    assert before.status_code == 400  # not yet: its index is not built

    call_command("reindex", stdout=StringIO())

    after = fhir.get("/fhir/Patient?nickname=はな").json()
    assert [entry["resource"]["id"] for entry in after["entry"]] == ["n1"]
    metadata = fhir.get("/fhir/metadata").json()["rest"][0]["resource"]
    patient = next(resource for resource in metadata if resource["type"] == "Patient")
    assert "nickname" in {parameter["name"] for parameter in patient["searchParam"]}


def test_a_search_parameter_that_cannot_be_served_is_reported(fhir, transactional_db):
    broken = {**SEARCH_PARAMETER, "id": "broken", "url": "http://x/broken", "code": "broken", "type": "special"}
    fhir.post("/fhir/SearchParameter", broken)
    errors = StringIO()

    call_command("reindex", stdout=StringIO(), stderr=errors)

    assert "type 'special' cannot be searched" in errors.getvalue()
    assert fhir.get("/fhir/Patient?broken=x", headers={"Prefer": "handling=strict"}).status_code == 400
