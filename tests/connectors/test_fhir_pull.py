"""Pull mode: searchset pages as records, and the Bulk $export client against a stub server (a remote FHIR
server is outside the platform). Paged search against our own server is in tests/e2e/test_fhir_pull.py."""

from __future__ import annotations

import io
import json
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connectors.base import SourceInfo
from connectors.fhir.connector import CONNECTOR
from connectors.models import InboundMessage, QuarantinedRecord
from federation.models import Resource
from tests.federation.identity.stored import source_patients

pytestmark = pytest.mark.django_db

PATIENTS = "urn:oid:1.2.392.100495.20.3.51.12214110052"
SOURCE = SourceInfo("remote", "fhir", "R", "", "", PATIENTS)
TOKEN = "s3cret-bearer"


def line(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False).encode() + b"\n"


def patient(number: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"p{number}", "identifier": [{"system": PATIENTS, "value": f"{number}"}]}


def observation(number: int, patient_number: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o{number}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/p{patient_number}"},
        "valueQuantity": {"value": 60 + number, "unit": "/min"},
    }


def outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
    }


# -- searchset pages as records -------------------------------------------------------------------------------


def test_searchset_matches_and_includes_are_loose_records_and_outcomes_are_skipped():
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "http://remote/fhir/Observation?_page_token=x"}],
        "entry": [
            {
                "fullUrl": "http://remote/fhir/Observation/o1",
                "resource": observation(1, 1),
                "search": {"mode": "match"},
            },
            {"resource": outcome("Ignored unknown search parameters: foo."), "search": {"mode": "outcome"}},
            {"fullUrl": "http://remote/fhir/Patient/p1", "resource": patient(1), "search": {"mode": "include"}},
        ],
    }

    records = list(CONNECTOR.records(SOURCE, io.BytesIO(json.dumps(page).encode()), "pull:page"))

    assert [record.location for record in records] == ["pull:page:entry[2]", "pull:page:entry[0]"]  # Patient first
    assert all(record.problem is None for record in records)
    stored_observation = records[1].entries[0]["resource"]
    assert stored_observation["subject"]["reference"] == f"Patient?identifier={PATIENTS}|1"


def test_an_empty_searchset_page_has_no_records():
    page = {"resourceType": "Bundle", "type": "searchset", "total": 0}

    assert list(CONNECTOR.records(SOURCE, io.BytesIO(json.dumps(page).encode()), "pull:page")) == []


def test_an_operation_outcome_is_the_senders_problem_with_its_text():
    data = line(outcome("Observation/9 could not be exported")) + line(outcome("Patient/3: access denied"))

    records = list(CONNECTOR.records(SOURCE, io.BytesIO(data), "errors.ndjson"))

    assert [record.problem.reason for record in records if record.problem] == [
        "the sender reported a problem instead of data: error: Observation/9 could not be exported",
        "the sender reported a problem instead of data: error: Patient/3: access denied",
    ]


# -- a stub Bulk Data server ---------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes | Iterator[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StubServer:
    """Routes `METHOD /path` to a function giving the Answer; records every request."""

    routes: dict[str, Callable[[], Answer]]
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base: str = ""


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server_state = StubServer(routes={})

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            server_state.requests.append((self.command, self.path, dict(self.headers)))
            route = server_state.routes.get(f"{self.command} {self.path.split('?')[0]}")
            reply = route() if route else Answer(404, b"not found", {"Content-Type": "text/plain"})
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
            if isinstance(reply.body, bytes):
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(chunk)

        def do_GET(self) -> None:
            self.answer()

        def do_DELETE(self) -> None:
            self.answer()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.base = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()


def fhir_json(value: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status, json.dumps(value).encode(), {"Content-Type": "application/fhir+json", **headers})


def ndjson(*resources: dict[str, Any]) -> Answer:
    return Answer(200, b"".join(line(resource) for resource in resources), {"Content-Type": "application/fhir+ndjson"})


def export_server(stub: StubServer, polls: list[Answer], manifest: dict[str, Any]) -> None:
    """Kick-off answers 202; the status URL answers `polls` in turn, then the manifest; DELETE answers 202."""
    pending = iter(polls)
    stub.routes["GET /fhir/$export"] = lambda: Answer(202, headers={"Content-Location": f"{stub.base}/status/7"})
    stub.routes["GET /fhir/status/7"] = lambda: next(pending, None) or fhir_json(manifest)
    stub.routes["DELETE /fhir/status/7"] = lambda: Answer(202)


@pytest.fixture
def source() -> str:
    call_command("add_source", "--code", "remote", "--connector", "fhir", "--organization-name", "R", stdout=StringIO())
    return "remote"


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The poll waits asked for, instead of sleeping through them."""
    asked: list[float] = []
    monkeypatch.setattr("connectors.fhir.bulk_export.sleep", asked.append)
    return asked


def pull(*args: str) -> tuple[int, dict[str, Any], str]:
    """Run `ingest_pull --source remote --json`; exit code, summary and what went to stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command("ingest_pull", "--source", "remote", *args, "--json", stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, json.loads(out.getvalue()), err.getvalue()


def usage_error(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command("ingest_pull", *args, stdout=StringIO(), stderr=StringIO())
    assert error.value.returncode == 2
    text = str(error.value)
    assert "\n" not in text
    return text


# -- Bulk $export -------------------------------------------------------------------------------------------


def test_bulk_export_files_are_ingested_in_type_order_and_error_files_reported(stub, source, waits, monkeypatch):
    monkeypatch.setenv("REMOTE_TOKEN", TOKEN)
    stub.routes["GET /fhir/files/Observation-1.ndjson"] = lambda: ndjson(observation(1, 1), observation(2, 2))
    stub.routes["GET /fhir/files/Patient-1.ndjson"] = lambda: ndjson(patient(1), patient(2))
    stub.routes["GET /fhir/files/errors.ndjson"] = lambda: ndjson(outcome("Observation/o3 could not be read"))
    manifest = {
        "transactionTime": "2026-11-26T10:00:00+09:00",
        "request": f"{stub.base}/$export",
        "requiresAccessToken": True,
        "output": [
            {"type": "Observation", "url": f"{stub.base}/files/Observation-1.ndjson"},
            {"type": "Patient", "url": f"{stub.base}/files/Patient-1.ndjson"},
        ],
        "error": [{"type": "OperationOutcome", "url": f"{stub.base}/files/errors.ndjson"}],
    }
    export_server(
        stub,
        [
            Answer(202, headers={"X-Progress": "50% done", "Retry-After": "7"}),
            fhir_json(outcome("slow down"), 429),
            Answer(202, headers={"X-Progress": "90% done"}),
        ],
        manifest,
    )

    code, summary, err = pull(
        "--base-url", stub.base, "--bulk", "--type", "Patient,Observation", "--since", "2026-11-01T00:00:00+09:00",
        "--token-env", "REMOTE_TOKEN",
    )  # fmt: skip

    assert code == 1  # the error file's problem is quarantined
    assert (summary["received"], summary["created"], summary["quarantined"]) == (3, 4, 1)
    assert summary["first_errors"] == [
        f"remote:pull:{stub.base}/files/errors.ndjson:1: the sender reported a problem instead of data: error: "
        "Observation/o3 could not be read"
    ]
    origins = list(InboundMessage.objects.order_by("pk").values_list("origin", flat=True))
    assert origins == [
        f"pull:{stub.base}/files/{name}" for name in ("Patient-1.ndjson", "Observation-1.ndjson", "errors.ndjson")
    ]
    assert QuarantinedRecord.objects.get().location == f"pull:{stub.base}/files/errors.ndjson:1"
    assert Resource.objects.filter(resource_type="Observation").count() == 2
    assert waits == [7.0, 1.0, 2.0]  # Retry-After honoured, else a doubling backoff
    _, kick_off, headers = stub.requests[0]
    assert kick_off == "/fhir/$export?_type=Patient,Observation&_since=2026-11-01T00%3A00%3A00%2B09%3A00"
    assert (headers["Prefer"], headers["Accept"]) == ("respond-async", "application/fhir+json")
    files = [(path, headers.get("Authorization")) for method, path, headers in stub.requests if "/files/" in path]
    assert files == [
        (f"/fhir/files/{name}", f"Bearer {TOKEN}")
        for name in ("Patient-1.ndjson", "Observation-1.ndjson", "errors.ndjson")
    ]
    assert stub.requests[-1][:2] == ("DELETE", "/fhir/status/7")
    assert TOKEN not in json.dumps(summary) + err


def test_pulling_the_same_export_again_changes_nothing(stub, source, waits, monkeypatch):
    monkeypatch.setenv("REMOTE_TOKEN", TOKEN)
    stub.routes["GET /fhir/files/Patient.ndjson"] = lambda: ndjson(patient(1), patient(2))
    manifest = {
        "output": [{"type": "Patient", "url": f"{stub.base}/files/Patient.ndjson"}],
        "deleted": [{"type": "Bundle", "url": f"{stub.base}/files/deleted.ndjson"}],
    }
    export_server(stub, [], manifest)

    first_code, first, _ = pull("--base-url", stub.base, "--bulk", "--token-env", "REMOTE_TOKEN")
    again_code, again, _ = pull("--base-url", stub.base, "--bulk", "--token-env", "REMOTE_TOKEN")

    assert (first_code, again_code) == (0, 0)
    assert first["first_errors"] == [
        "remote: the export lists 1 file(s) of deleted resources, which pull does not apply"
    ]
    assert (again["received"], again["duplicates"], again["created"]) == (1, 1, 0)
    assert source_patients().count() == 2
    files = [headers.get("Authorization") for _, path, headers in stub.requests if "/files/" in path]
    assert files == [None, None]  # the manifest does not require the token for its files


def test_output_files_are_streamed_into_the_raw_store(stub, source, waits):
    """A 24 MiB file passes through in chunks: memory stays far below its size."""
    blank = b" " * (1 << 20)
    stub.routes["GET /fhir/files/Patient.ndjson"] = lambda: Answer(
        200, iter([blank] * 24), {"Content-Type": "application/fhir+ndjson"}
    )
    export_server(stub, [], {"output": [{"type": "Patient", "url": f"{stub.base}/files/Patient.ndjson"}]})

    tracemalloc.start()
    try:
        code, summary, _ = pull("--base-url", stub.base, "--bulk")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (code, summary["quarantined"]) == (1, 1)  # the blank file is a problem, kept raw
    assert InboundMessage.objects.get().size == 24 << 20
    assert peak < 8 << 20


def test_a_refused_kick_off_is_one_line_and_exit_2(stub, source):
    stub.routes["GET /fhir/Patient/$export"] = lambda: fhir_json(outcome("_type Foo is not supported"), 400)

    text = usage_error("--source", "remote", "--base-url", stub.base, "--bulk", "patient")

    assert text == f"{stub.base}/Patient/$export answered 400 Bad Request: error: _type Foo is not supported"


def test_a_failed_export_is_one_line_and_the_status_url_is_still_deleted(stub, source, waits):
    export_server(stub, [fhir_json(outcome("the export ran out of disk"), 500)], {})

    text = usage_error("--source", "remote", "--base-url", stub.base, "--bulk")

    assert text == (
        f"the export failed: {stub.base}/status/7 answered 500 Internal Server Error: error: the export ran out of disk"
    )
    assert stub.requests[-1][:2] == ("DELETE", "/fhir/status/7")


@pytest.mark.parametrize("path", ["/fhir/$export", "/fhir/Patient"])
def test_a_server_answering_html_is_a_clear_error(stub, source, path):
    page = Answer(200, b"<html><body>Sign in</body></html>", {"Content-Type": "text/html; charset=utf-8"})
    stub.routes[f"GET {path}"] = lambda: page
    mode = ["--bulk"] if path.endswith("$export") else ["--search", "Patient"]

    text = usage_error("--source", "remote", "--base-url", stub.base, *mode)

    where = f"{stub.base}{path.removeprefix('/fhir')}"
    assert text == f"{where} answered text/html, not FHIR JSON: is the URL a FHIR server's base?"
    assert not InboundMessage.objects.exists()


def test_a_manifest_that_is_not_json_is_a_clear_error(stub, source, waits):
    export_server(stub, [], {})
    stub.routes["GET /fhir/status/7"] = lambda: Answer(200, b"all done", {"Content-Type": "application/json"})

    text = usage_error("--source", "remote", "--base-url", stub.base, "--bulk")

    assert text.startswith(f"{stub.base}/status/7 answered something that is not JSON (")


def test_search_pages_follow_next_links_the_token_stays_home_and_a_page_loop_is_stopped(stub, source, monkeypatch):
    monkeypatch.setenv("REMOTE_TOKEN", TOKEN)
    elsewhere = stub.base.replace("127.0.0.1", "localhost")  # the same stub under another origin
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": f"{elsewhere}/Patient?_page_token=2"}],
        "entry": [{"resource": patient(1), "search": {"mode": "match"}}],
    }
    stub.routes["GET /fhir/Patient"] = lambda: fhir_json(page)

    text = usage_error(
        "--source",
        "remote",
        "--base-url",
        stub.base,
        "--search",
        "Patient?gender=female",
        "--token-env",
        "REMOTE_TOKEN",
    )

    asked = [(path, headers.get("Authorization")) for _, path, headers in stub.requests]
    assert asked == [
        ("/fhir/Patient?gender=female&_count=500", f"Bearer {TOKEN}"),
        ("/fhir/Patient?_page_token=2", None),
    ]
    assert stub.requests[0][2]["Prefer"] == "handling=strict"  # a misspelt parameter must not pull everything
    assert text == f"the next link of {elsewhere}/Patient leads back to a page already pulled"
    assert source_patients().count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nobody", "--base-url", "http://x/fhir", "--bulk"], "unknown source 'nobody'"),
        (["--source", "his", "--base-url", "http://x/fhir", "--bulk"], "uses the hl7v2 connector"),
        (["--source", "remote", "--base-url", "ftp://x/fhir", "--bulk"], "is not an http or https URL"),
        (["--source", "remote", "--base-url", "http://x/fhir", "--search", "Patinet"], "does not start with a FHIR"),
        (["--source", "remote", "--base-url", "http://x/fhir", "--search", "Patient", "--type", "Patient"], "go with"),
        (["--source", "remote", "--base-url", "http://x/fhir", "--bulk", "--type", "Patinet"], "names no FHIR R4"),
        (
            ["--source", "remote", "--base-url", "http://x/fhir", "--bulk", "--since", "2026-11-01"],
            "not a FHIR instant",
        ),
        (["--source", "remote", "--base-url", "http://x/fhir", "--bulk", "--token-env", "NO_SUCH_VARIABLE"], "not set"),
    ],
)
def test_usage_errors_exit_2_with_one_line(source, args, message):
    call_command("add_source", "--code", "his", "--connector", "hl7v2", "--organization-name", "H", stdout=StringIO())

    assert message in usage_error(*args)


def test_an_unreachable_server_is_one_line_and_exit_2(source):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/fhir"  # nothing listens there once it is closed

    text = usage_error("--source", "remote", "--base-url", closed, "--search", "Patient")

    assert text.startswith(f"cannot reach {closed}/Patient: ")


def test_a_page_that_is_not_a_searchset_is_kept_quarantined_and_stops_the_pull(stub, source):
    stub.routes["GET /fhir/Patient"] = lambda: fhir_json(outcome("the search index is rebuilding"))

    text = usage_error("--source", "remote", "--base-url", stub.base, "--search", "Patient")

    message = InboundMessage.objects.get()
    assert text == (
        f"{stub.base}/Patient answered a resource of type OperationOutcome, not a searchset Bundle "
        f"(kept as message {message.pk})"
    )
    assert QuarantinedRecord.objects.get(message=message).reason == (
        "the sender reported a problem instead of data: error: the search index is rebuilding"
    )
