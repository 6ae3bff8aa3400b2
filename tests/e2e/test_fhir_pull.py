"""Pull mode's paged search against our own server over real HTTP (gunicorn on the test database)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command

from connectors.models import InboundMessage
from federation.models import Resource
from tests.conftest import FHIR_JSON, patient
from tests.federation.identity.stored import source_patients

pytestmark = pytest.mark.e2e

RECORDS = "https://tsunagi.example.jp/fhir/IdSystem/source-record/mirror"


@pytest.fixture
def raw_store(settings, tmp_path):
    settings.RAW_STORE_DIR = tmp_path / "raw"


def pull(*args: str) -> tuple[int, dict[str, Any]]:
    """Run `ingest_pull --source mirror --json --no-link` (the mirror pulls from this server, which linking
    would change between pulls); its exit code and summary."""
    out = StringIO()
    try:
        call_command(
            "ingest_pull", "--source", "mirror", "--token-env", "MIRROR_TOKEN", *args, "--json", "--no-link",
            stdout=out, stderr=StringIO(),
        )  # fmt: skip
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, json.loads(out.getvalue())


def counts() -> dict[str, int]:
    return {
        "Patient": source_patients().count(),
        "Observation": Resource.objects.filter(resource_type="Observation").count(),
    }


@pytest.fixture
def remote_data(gunicorn_url: str, bearer: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Three Patients and four Observations stored through the API; the instant after the last of them, so
    that a pull's searches see these and not the copies the pull itself stores on the same server."""
    session = requests.Session()
    session.headers.update({"Content-Type": FHIR_JSON, **bearer})
    monkeypatch.setenv("MIRROR_TOKEN", bearer["Authorization"].removeprefix("Bearer "))  # the pull's token
    stored_at: list[str] = []
    for number in range(3):
        created = session.post(
            f"{gunicorn_url}/fhir/Patient",
            data=json.dumps(patient(identifier=[{"system": "urn:oid:1.2.392.100495.20.3.51.1", "value": f"{number}"}])),
        ).json()
        observations = 2 if number == 0 else 1
        for value in range(observations):
            observation = {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient/{created['id']}"},
                "valueQuantity": {"value": 60 + value, "unit": "/min"},
            }
            stored = session.post(f"{gunicorn_url}/fhir/Observation", data=json.dumps(observation)).json()
            stored_at.append(stored["meta"]["lastUpdated"])
    return stored_at[-1].replace("+00:00", "Z")


def test_paged_search_is_pulled_page_by_page_and_pulling_again_changes_nothing(remote_data, gunicorn_url, raw_store):
    call_command("add_source", "--code", "mirror", "--connector", "fhir", "--organization-name", "M", stdout=StringIO())
    base = f"{gunicorn_url}/fhir"
    window = f"_lastUpdated=le{remote_data}"
    searches = ["--search", f"Patient?{window}&_count=2", "--search", f"Observation?{window}&_count=2"]

    code, summary = pull("--base-url", base, *searches)

    assert code == 0, summary
    pages = list(InboundMessage.objects.order_by("pk").values_list("origin", flat=True))
    assert summary["received"] == len(pages) == 4  # 3 Patients and 4 Observations, 2 a page
    assert [origin.split("?")[0] for origin in pages] == [
        f"pull:{base}/{kind}" for kind in ("Patient",) * 2 + ("Observation",) * 2
    ]
    assert (summary["created"], summary["quarantined"]) == (7, 0)
    assert counts() == {"Patient": 6, "Observation": 8}
    copy = Resource.objects.get(
        resource_type="Observation", content__identifier__0__system=RECORDS, content__valueQuantity__value=61
    )
    subject = copy.content["subject"]["reference"]
    pulled_patient = Resource.objects.get(resource_type="Patient", logical_id=subject.split("/")[1])
    assert any(item["system"] == RECORDS for item in pulled_patient.content["identifier"])

    again_code, again = pull("--base-url", base, *searches)
    assert again_code == 0
    assert again["duplicates"] == again["received"] == len(pages)
    assert counts() == {"Patient": 6, "Observation": 8}

    other_pages_code, other_pages = pull(
        "--base-url", base, "--search", f"Patient?{window}&_count=3", "--search", f"Observation?{window}&_count=3"
    )
    assert other_pages_code == 0
    assert (other_pages["created"], other_pages["updated"], other_pages["unchanged"]) == (0, 0, 7)
    assert counts() == {"Patient": 6, "Observation": 8}
