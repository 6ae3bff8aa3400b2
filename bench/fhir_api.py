"""Benchmark of the FHIR REST API through gunicorn, with the database and HTTP floors beside it.

Run it as `.venv/bin/python bench/fhir_api.py [--quick]` (or `make bench`). Every run starts a fresh
`tsunagi_bench` database (never the demo's `tsunagi`), migrates it, starts gunicorn on a free port,
seeds synthetic Japanese patients over HTTP and then times each interaction over one keep-alive
connection. The floors answer "how much of a read is ours": the same primary-key SELECT straight
through psycopg, and an unknown FHIR route that goes through gunicorn, Django and DRF but touches
no resource. Results print as a table and are written as JSON under bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
VENV_BIN = Path(sys.executable).parent
BENCH_DATABASE = "tsunagi_bench"
FHIR_JSON = "application/fhir+json"
HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}

# The server shape under test: one worker per core of the 2-core machine, one thread each, app
# preloaded. The worker class defaults to gthread rather than sync: gunicorn's sync worker closes
# every connection, and this benchmark measures keep-alive clients (a FHIR client reuses its connection).
WORKERS = 2
THREADS = 1
WORKER_CLASSES = ("gthread", "sync")

TARGET_READ_P50_MS = 5.0
TARGET_TRANSACTION_P50_MS = 400.0
TRANSACTION_ENTRIES = 150


@dataclass(frozen=True)
class Plan:
    """How many times each phase runs; `--quick` shrinks everything for a smoke run."""

    patients: int
    observations_per_patient: int
    warmup: int
    reads: int
    vreads: int
    creates: int
    updates: int
    transactions: int
    transaction_warmup: int
    db_reads: int
    floor_requests: int
    concurrent_reads: int
    concurrent_rounds: int
    concurrent_clients: int = 4


FULL_PLAN = Plan(
    patients=500,
    observations_per_patient=2,
    warmup=100,
    reads=2000,
    vreads=500,
    creates=500,
    updates=500,
    transactions=50,
    transaction_warmup=3,
    db_reads=2000,
    floor_requests=1000,
    concurrent_reads=2000,
    concurrent_rounds=5,
)
QUICK_PLAN = Plan(
    patients=40,
    observations_per_patient=1,
    warmup=10,
    reads=100,
    vreads=40,
    creates=40,
    updates=40,
    transactions=3,
    transaction_warmup=1,
    db_reads=100,
    floor_requests=50,
    concurrent_reads=100,
    concurrent_rounds=2,
)


class BenchError(Exception):
    """The run cannot go on: set-up failed, or the server answered what a correct server would not."""


@dataclass(frozen=True)
class Call:
    """One HTTP request of a phase, prepared before the clock starts so only the request is timed."""

    method: str
    path: str
    body: bytes | None = None
    expect: int = 200


@dataclass
class Stats:
    """Latency summary of one operation, in milliseconds; throughput is for the whole phase."""

    operation: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    throughput_per_s: float
    clients: int = 1
    note: str = ""
    connection_resets: int = 0

    @classmethod
    def from_samples(
        cls, operation: str, samples_ms: Sequence[float], wall_s: float, clients: int = 1, note: str = ""
    ) -> Stats:
        ordered = sorted(samples_ms)
        return cls(
            operation=operation,
            count=len(ordered),
            p50_ms=percentile(ordered, 50),
            p95_ms=percentile(ordered, 95),
            p99_ms=percentile(ordered, 99),
            mean_ms=statistics.fmean(ordered),
            min_ms=ordered[0],
            max_ms=ordered[-1],
            throughput_per_s=len(ordered) / wall_s if wall_s > 0 else 0.0,
            clients=clients,
            note=note,
        )


@dataclass
class Results:
    """Everything one run produced, as written to the JSON file."""

    meta: dict[str, Any]
    operations: list[Stats] = field(default_factory=list)
    baselines: list[Stats] = field(default_factory=list)
    concurrent: list[Stats] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)


def project_compiled() -> None:
    """Bytecode for the project's modules, as `make` and any deployment leave it: where PYTHONDONTWRITEBYTECODE
    is set (this machine sets it), a process would otherwise compile them from source at every start, 0.4 to 0.8 s
    of each `manage.py` command."""
    compileall.compile_dir(REPO_ROOT, rx=re.compile(r"/\."), quiet=1)


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), so small samples still interpolate."""
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def progress(message: str) -> None:
    """Progress goes to stderr so stdout carries only the result table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- database -------------------------------------------------------------------------------


def server_url() -> tuple[str, str]:
    """A URL to the PostgreSQL server to use and a description: DATABASE_URL's server, else the embedded one."""
    configured = os.environ.get("DATABASE_URL", "")
    if configured:
        return configured, "DATABASE_URL server"
    return _embedded_server_url(), "embedded PostgreSQL (config/embedded_db.py, unix socket)"


def _embedded_server_url() -> str:
    # Run as a script, sys.path starts at bench/; the project packages live at the repository root.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from config.embedded_db import embedded_database_url

    return embedded_database_url()


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database (host, port and query such as ?host= are kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, name: str, *, template: str | None = None) -> str:
    """Drop and create the bench database, so every run starts empty (or as a copy of `template`, a database
    an earlier run filled) and the demo data is never touched."""
    if name == "tsunagi":
        raise BenchError("Refusing to benchmark against the demo database 'tsunagi'.")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return with_database(url, name)


def server_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def django_env(database_url: str) -> dict[str, str]:
    """Local settings with DEBUG off (DEBUG keeps every query in memory) and the bench database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        # Django logs every 404 as a warning; the HTTP floor sends a thousand of them.
        "LOG_LEVEL": "ERROR",
        "ACCESS_TOKEN_EXPIRE_SECONDS": "86400",  # one token lasts the longest run
        "FHIR_TOKEN_RATE": "",  # the benchmarks send faster than a client may: rate limits are not what they time
    }


def migrate(database_url: str) -> None:
    completed = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input"],
        cwd=REPO_ROOT,
        env=django_env(database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"manage.py migrate failed:\n{completed.stdout}\n{completed.stderr}")


# --- server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_command(port: int, worker_class: str) -> list[str]:
    return [
        str(VENV_BIN / "gunicorn"),
        "config.wsgi",
        "--workers",
        str(WORKERS),
        "--threads",
        str(THREADS),
        "--worker-class",
        worker_class,
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
    ]


@dataclass(frozen=True)
class Server:
    """A running server's FHIR base and a bearer token of a back-office client with system/*.cruds."""

    base: str
    token: str


def bench_token(database_url: str, base: str) -> str:
    """Register a back-office client the way an operator would and take a token with its secret."""
    completed = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "register_client", "--name", "bench", "--kind", "confidential",
         "--organization", "Organization/bench", "--scopes", "system/*.cruds"],
        cwd=REPO_ROOT, env=django_env(database_url), capture_output=True, text=True, check=False,
    )  # fmt: skip
    printed = dict(line.split(": ", 1) for line in completed.stdout.splitlines() if ": " in line)
    if completed.returncode != 0 or "client_secret" not in printed:
        raise BenchError(f"manage.py register_client failed:\n{completed.stdout}\n{completed.stderr}")
    response = requests.post(
        base.removesuffix("/fhir") + "/auth/token",
        data={"grant_type": "client_credentials", "scope": "system/*.cruds"},
        auth=(printed["client_id"], printed["client_secret"].split()[0]),
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@contextmanager
def running_server(database_url: str, worker_class: str) -> Iterator[Server]:
    """Gunicorn on a free port for the block's duration, with a token to call it; stopped (and its log shown on
    failure) however it ends."""
    port = free_port()
    log: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in the finally below
    command = gunicorn_command(port, worker_class)
    environment = django_env(database_url)
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        wait_until_ready(base, process)
        yield Server(base, bench_token(database_url, base))
    except Exception:
        log.seek(0)
        tail = log.read()[-4000:]
        if tail:
            print(f"--- gunicorn log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        stop(process)
        log.close()


def wait_until_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with status {process.returncode} before answering.")
        try:
            if requests.get(f"{base}/metadata", headers=HEADERS, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer GET {base}/metadata within {timeout_s:.0f} s.")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets gunicorn stop its workers itself; SIGKILL only if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- synthetic, Japan-flavoured content ------------------------------------------------------

FAMILY_NAMES = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
]
GIVEN_NAMES = [
    ("太郎", "タロウ", "male"),
    ("健一", "ケンイチ", "male"),
    ("翔太", "ショウタ", "male"),
    ("大輔", "ダイスケ", "male"),
    ("花子", "ハナコ", "female"),
    ("美咲", "ミサキ", "female"),
    ("陽菜", "ヒナ", "female"),
    ("由美", "ユミ", "female"),
]
ADDRESSES = [
    ("東京都", "新宿区", "西新宿2-8-1", "1600023"),
    ("大阪府", "大阪市北区", "中之島1-3-20", "5308201"),
    ("神奈川県", "横浜市中区", "本町6-50-10", "2310005"),
    ("福岡県", "福岡市中央区", "天神1-8-1", "8108620"),
    ("北海道", "札幌市中央区", "北1条西2丁目", "0608611"),
]
# JP Core: patient numbers of a facility live under 1.2.392.100495.20.3.51.1 + the facility code.
PATIENT_ID_SYSTEM = "urn:oid:1.2.392.100495.20.3.51.11312345678"
JLAC10 = "urn:oid:1.2.392.200119.4.504"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
JST = timezone(timedelta(hours=9))
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# (JLAC10 code, LOINC code, display, UCUM unit, low, high); the JLAC10 codes are illustrative.
LAB_TESTS = [
    ("3B035000002327201", "1920-8", "AST(GOT)", "U/L", 12, 60),
    ("3B045000002327201", "1742-6", "ALT(GPT)", "U/L", 8, 70),
    ("3B090000002327101", "2324-2", "γ-GT", "U/L", 10, 120),  # noqa: RUF001 - the Greek gamma is the test's name
    ("3D046000001906202", "4548-4", "HbA1c(NGSP)", "%", 4.8, 9.5),
    ("3D010000001926101", "2345-7", "空腹時血糖", "mg/dL", 70, 180),
    ("3C015000002327101", "2160-0", "クレアチニン", "mg/dL", 0.5, 1.8),
    ("3F050000002327101", "2093-3", "総コレステロール", "mg/dL", 140, 280),
    ("3F070000002327101", "2085-9", "HDLコレステロール", "mg/dL", 30, 95),
    ("3F077000002327101", "13457-7", "LDLコレステロール", "mg/dL", 60, 200),
    ("3F015000002327101", "2571-8", "中性脂肪", "mg/dL", 40, 350),
    ("2A030000001930101", "718-7", "ヘモグロビン", "g/dL", 10.5, 17.5),
]
VITAL_SIGNS = [
    ("29463-7", "体重", "kg", 40, 95),
    ("8302-2", "身長", "cm", 145, 185),
    ("8310-5", "体温", "Cel", 35.8, 37.6),
    ("8867-4", "脈拍", "/min", 55, 100),
]
DIAGNOSES = [
    ("E11.9", "2型糖尿病"),
    ("I10", "本態性高血圧症"),
    ("E78.5", "脂質異常症"),
    ("J45.9", "気管支喘息"),
    ("K21.9", "逆流性食道炎"),
    ("M54.5", "腰痛症"),
    ("J30.4", "アレルギー性鼻炎"),
    ("N18.3", "慢性腎臓病ステージ3"),
]


def name_part(text: str, representation: str) -> dict[str, Any]:
    """A JP Core HumanName: kanji (IDE) and kana (SYL) are two names told apart by this extension."""
    return {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation",
                "valueCode": representation,
            }
        ],
        "use": "official",
        "text": text,
    }


def patient_resource(rng: random.Random, number: int) -> dict[str, Any]:
    family, family_kana = rng.choice(FAMILY_NAMES)
    given, given_kana, gender = rng.choice(GIVEN_NAMES)
    prefecture, city, line, postal_code = rng.choice(ADDRESSES)
    birth = date(1935, 1, 1) + timedelta(days=rng.randrange(80 * 365))
    kanji = {**name_part(f"{family} {given}", "IDE"), "family": family, "given": [given]}
    kana = {**name_part(f"{family_kana} {given_kana}", "SYL"), "family": family_kana, "given": [given_kana]}
    return {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": f"{number:08d}"}],
        "active": True,
        "name": [kanji, kana],
        "telecom": [{"system": "phone", "value": f"090-{rng.randrange(10000):04d}-{rng.randrange(10000):04d}"}],
        "gender": gender,
        "birthDate": birth.isoformat(),
        "address": [
            {
                "use": "home",
                "text": f"{prefecture}{city}{line}",
                "line": [line],
                "city": city,
                "state": prefecture,
                "postalCode": postal_code,
                "country": "JP",
            }
        ],
    }


def quantity(rng: random.Random, unit: str, low: float, high: float) -> dict[str, Any]:
    return {"value": round(rng.uniform(low, high), 1), "unit": unit, "system": UCUM, "code": unit}


def lab_observation(rng: random.Random, subject: str, encounter: str | None, when: datetime) -> dict[str, Any]:
    jlac10, loinc, display, unit, low, high = rng.choice(LAB_TESTS)
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "検体検査"}]}],
        "code": {
            "coding": [
                {"system": JLAC10, "code": jlac10, "display": display},
                {"system": LOINC, "code": loinc},
            ],
            "text": display,
        },
        "subject": {"reference": subject},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": quantity(rng, unit, low, high),
    }
    if encounter is not None:
        observation["encounter"] = {"reference": encounter}
    return observation


def vital_observation(rng: random.Random, subject: str, encounter: str, when: datetime) -> dict[str, Any]:
    loinc, display, unit, low, high = rng.choice(VITAL_SIGNS)
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "バイタルサイン"}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": display},
        "subject": {"reference": subject},
        "encounter": {"reference": encounter},
        "effectiveDateTime": when.isoformat(),
        "valueQuantity": quantity(rng, unit, low, high),
    }


def encounter_resource(subject: str, when: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "外来"},
        "subject": {"reference": subject},
        "period": {"start": when.isoformat(), "end": (when + timedelta(minutes=20)).isoformat()},
    }


def condition_resource(rng: random.Random, subject: str, encounter: str, when: datetime) -> dict[str, Any]:
    code, display = rng.choice(DIAGNOSES)
    clinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": clinical, "code": "active"}]},
        "code": {"coding": [{"system": ICD10, "code": code, "display": display}], "text": display},
        "subject": {"reference": subject},
        "encounter": {"reference": encounter},
        "recordedDate": when.date().isoformat(),
    }


def visit_time(rng: random.Random) -> datetime:
    start = datetime(2024, 4, 1, 9, 0, tzinfo=JST)
    return start + timedelta(days=rng.randrange(700), minutes=rng.randrange(8 * 60))


def transaction_bundle(rng: random.Random, number: int, size: int = TRANSACTION_ENTRIES) -> dict[str, Any]:
    """One patient's record as a connector would send it: the Patient plus visits, diagnoses and results.

    Every reference is a urn:uuid fullUrl of this Bundle, so the server has to assign ids and
    rewrite references before writing, which is the work a transaction adds over plain creates.
    """
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    encounter_count, condition_count = 10, 15
    entries = [post_entry(patient_url, patient_resource(rng, number))]
    visits = [(f"urn:uuid:{uuid.uuid4()}", visit_time(rng)) for _ in range(encounter_count)]
    entries += [post_entry(url, encounter_resource(patient_url, when)) for url, when in visits]
    for _ in range(condition_count):
        url, when = rng.choice(visits)
        entries.append(post_entry(f"urn:uuid:{uuid.uuid4()}", condition_resource(rng, patient_url, url, when)))
    while len(entries) < size:
        url, when = rng.choice(visits)
        make = lab_observation if rng.random() < 0.7 else vital_observation
        entries.append(post_entry(f"urn:uuid:{uuid.uuid4()}", make(rng, patient_url, url, when)))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def post_entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def encode(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False).encode()


# --- HTTP timing ----------------------------------------------------------------------------


class FhirClient:
    """One keep-alive connection to the FHIR base, as a FHIR client library would hold it."""

    def __init__(self, server: Server) -> None:
        self.base = server.base
        self.session = requests.Session()
        self.headers = {**HEADERS, "Authorization": f"Bearer {server.token}"}
        self.resets = 0

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def send(self, call: Call) -> tuple[float, requests.Response]:
        """Time one request including reading the whole body; fail loudly on an unexpected status.

        gunicorn's gthread worker now and then resets a keep-alive connection (a known race,
        benoitc/gunicorn#1698); such a request is sent once more on a new connection, timed
        afresh, and counted so the results show it rather than hide it.
        """
        try:
            return self._timed(call)
        except requests.ConnectionError:
            self.resets += 1
            return self._timed(call)

    def _timed(self, call: Call) -> tuple[float, requests.Response]:
        started = time.perf_counter()
        response = self.session.request(
            call.method, f"{self.base}/{call.path}", data=call.body, headers=self.headers, timeout=120
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != call.expect:
            raise BenchError(
                f"{call.method} /fhir/{call.path} answered {response.status_code}, expected {call.expect}:\n"
                f"{response.text[:4000]}"
            )
        return elapsed_ms, response


def run_phase(
    client: FhirClient,
    operation: str,
    calls: Sequence[Call],
    warmup: Sequence[Call],
    check: Callable[[requests.Response], None] | None = None,
    note: str = "",
) -> Stats:
    """Warm up (untimed), then time each call back to back on the client's keep-alive connection."""
    progress(f"{operation}: {len(warmup)} warm-up + {len(calls)} timed requests")
    for call in warmup:
        _, response = client.send(call)
        if check is not None:
            check(response)
    resets_before = client.resets
    samples: list[float] = []
    started = time.perf_counter()
    for call in calls:
        elapsed_ms, response = client.send(call)
        samples.append(elapsed_ms)
        if check is not None:
            check(response)
    wall_s = time.perf_counter() - started
    stats = Stats.from_samples(operation, samples, wall_s, note=note)
    stats.connection_resets = client.resets - resets_before
    progress(f"{operation}: p50 {stats.p50_ms:.2f} ms, p95 {stats.p95_ms:.2f} ms")
    return stats


def all_entries_created(response: requests.Response) -> None:
    """A transaction answers 200 even though every entry must say 201; check each entry too."""
    statuses = [entry["response"]["status"] for entry in response.json()["entry"]]
    failed = [status for status in statuses if not status.startswith("201")]
    if len(statuses) != TRANSACTION_ENTRIES or failed:
        raise BenchError(f"Transaction answered {len(statuses)} entries, not all 201: {failed[:5]}")


def concurrent_round(server: Server, paths: Sequence[str], clients: int) -> tuple[list[float], float, int]:
    """`clients` threads, each with its own new keep-alive session, reading at once; all start together."""
    per_client = [list(paths[index::clients]) for index in range(clients)]
    samples: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    resets = [0] * clients

    def run_client(index: int) -> None:
        with FhirClient(server) as client:
            try:
                client.send(Call("GET", per_client[index][0]))  # connect before the start line
                barrier.wait()
                for path in per_client[index]:
                    samples[index].append(client.send(Call("GET", path))[0])
            except BaseException as error:  # re-raised in the main thread
                errors.append(error)
                barrier.abort()
            resets[index] = client.resets

    threads = [threading.Thread(target=run_client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    with suppress(threading.BrokenBarrierError):  # a client failed; its error is raised below
        barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    if errors:
        raise errors[0]
    return [sample for client_samples in samples for sample in client_samples], wall_s, sum(resets)


def concurrent_reads(server: Server, paths: Sequence[str], clients: int, rounds: int) -> Stats:
    """Several rounds, each on fresh connections, pooled into one summary.

    A gthread worker keeps serving the keep-alive connections it accepted, so one round can land
    all clients on one worker and another spread them; rounds average that out, and the note
    keeps each round's throughput so the spread stays visible.
    """
    samples: list[float] = []
    wall_s = 0.0
    per_round: list[float] = []
    resets = 0
    for index in range(rounds):
        round_samples, round_wall_s, round_resets = concurrent_round(server, paths[index::rounds], clients)
        resets += round_resets
        samples += round_samples
        wall_s += round_wall_s
        per_round.append(len(round_samples) / round_wall_s)
    note = f"{rounds} rounds of new connections; req/s per round " + ", ".join(f"{rate:.0f}" for rate in per_round)
    stats = Stats.from_samples(f"read, {clients} concurrent clients", samples, wall_s, clients=clients, note=note)
    stats.connection_resets = resets
    return stats


# --- seeding --------------------------------------------------------------------------------


@dataclass
class Seeded:
    """What the timed phases read and update: the seeded patients' ids and their bodies."""

    patient_ids: list[str] = field(default_factory=list)
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    observations: int = 0


def seed(client: FhirClient, plan: Plan, rng: random.Random) -> Seeded:
    """Patients and Observations created over HTTP, untimed, so reads hit a realistic, non-empty table."""
    seeded = Seeded()
    progress(f"seeding {plan.patients} patients and {plan.patients * plan.observations_per_patient} observations")
    for number in range(plan.patients):
        body = patient_resource(rng, number)
        _, response = client.send(Call("POST", "Patient", encode(body), expect=201))
        logical_id = response.json()["id"]
        seeded.patient_ids.append(logical_id)
        seeded.patients[logical_id] = body
        for _ in range(plan.observations_per_patient):
            observation = lab_observation(rng, f"Patient/{logical_id}", None, visit_time(rng))
            client.send(Call("POST", "Observation", encode(observation), expect=201))
            seeded.observations += 1
    return seeded


# --- phases ---------------------------------------------------------------------------------


def read_calls(rng: random.Random, ids: Sequence[str], count: int) -> list[Call]:
    return [Call("GET", f"Patient/{rng.choice(ids)}") for _ in range(count)]


def vread_calls(rng: random.Random, ids: Sequence[str], count: int) -> list[Call]:
    return [Call("GET", f"Patient/{rng.choice(ids)}/_history/1") for _ in range(count)]


def create_calls(rng: random.Random, count: int, first_number: int) -> list[Call]:
    return [
        Call("POST", "Patient", encode(patient_resource(rng, first_number + index)), expect=201)
        for index in range(count)
    ]


def update_calls(rng: random.Random, seeded: Seeded, count: int, first_number: int) -> list[Call]:
    """PUTs that always change the content (a new phone number), so each one writes a new version."""
    calls = []
    for index in range(count):
        logical_id = rng.choice(seeded.patient_ids)
        body = {**seeded.patients[logical_id], "id": logical_id}
        body["telecom"] = [{"system": "phone", "value": f"080-{(first_number + index) % 100_000_000:08d}"}]
        calls.append(Call("PUT", f"Patient/{logical_id}", encode(body)))
    return calls


def transaction_calls(rng: random.Random, count: int, first_number: int) -> list[Call]:
    return [Call("POST", "", encode(transaction_bundle(rng, first_number + index))) for index in range(count)]


def database_floor(database_url: str, rng: random.Random, ids: Sequence[str], plan: Plan) -> Stats:
    """The read's SQL alone, over one psycopg connection, with the JSON decoded as Django would."""
    progress(f"database floor: {plan.warmup} warm-up + {plan.db_reads} primary-key SELECTs via psycopg")
    query = "SELECT content FROM federation_resource WHERE resource_type = %s AND logical_id = %s"
    with psycopg.connect(database_url, autocommit=True) as connection:

        def select(logical_id: str) -> float:
            started = time.perf_counter()
            row = connection.execute(query, ("Patient", logical_id)).fetchone()
            elapsed_ms = (time.perf_counter() - started) * 1000
            if row is None:
                raise BenchError(f"Patient/{logical_id} is missing from federation_resource.")
            return elapsed_ms

        for _ in range(plan.warmup):
            select(rng.choice(ids))
        started = time.perf_counter()
        samples = [select(rng.choice(ids)) for _ in range(plan.db_reads)]
        wall_s = time.perf_counter() - started
    return Stats.from_samples("db floor: psycopg PK SELECT", samples, wall_s, note="no HTTP, no Django")


def run_all(server: Server, database_url: str, plan: Plan, rng: random.Random, results: Results) -> None:
    """Every phase in a fixed order: floors and reads on the seeded data first, then the writes."""
    with FhirClient(server) as client:
        seeded = seed(client, plan, rng)
        results.meta["seeded"] = {"patients": len(seeded.patient_ids), "observations": seeded.observations}
        ids = seeded.patient_ids
        unknown = [Call("GET", "nothing-here", expect=404)]
        results.baselines.append(
            run_phase(
                client,
                "http floor: unknown route (404)",
                unknown * plan.floor_requests,
                unknown * plan.warmup,
                note="gunicorn + Django + DRF, no resource query",
            )
        )
        results.operations.append(
            run_phase(client, "read", read_calls(rng, ids, plan.reads), read_calls(rng, ids, plan.warmup))
        )
        results.baselines.append(database_floor(database_url, rng, ids, plan))
        results.operations.append(
            run_phase(client, "vread", vread_calls(rng, ids, plan.vreads), vread_calls(rng, ids, plan.warmup))
        )
        number = plan.patients
        warm_creates = create_calls(rng, plan.warmup, number)
        number += plan.warmup
        results.operations.append(run_phase(client, "create", create_calls(rng, plan.creates, number), warm_creates))
        number += plan.creates
        warm_updates = update_calls(rng, seeded, plan.warmup, 0)
        results.operations.append(
            run_phase(client, "update", update_calls(rng, seeded, plan.updates, plan.warmup), warm_updates)
        )
        warm_transactions = transaction_calls(rng, plan.transaction_warmup, number)
        number += plan.transaction_warmup
        results.operations.append(
            run_phase(
                client,
                f"transaction ({TRANSACTION_ENTRIES} entries)",
                transaction_calls(rng, plan.transactions, number),
                warm_transactions,
                check=all_entries_created,
            )
        )
    clients, rounds = plan.concurrent_clients, plan.concurrent_rounds
    progress(f"concurrent read: {clients} clients, {plan.concurrent_reads} requests in {rounds} rounds, after warm-up")
    concurrent_round(server, [call.path for call in read_calls(rng, ids, plan.warmup * clients)], clients)
    paths = [call.path for call in read_calls(rng, ids, plan.concurrent_reads)]
    stats = concurrent_reads(server, paths, clients, rounds)
    progress(f"concurrent read: {stats.throughput_per_s:.0f} req/s, p50 {stats.p50_ms:.2f} ms ({stats.note})")
    results.concurrent.append(stats)


# --- reporting ------------------------------------------------------------------------------


def evaluate_targets(results: Results) -> None:
    by_name = {stats.operation: stats for stats in results.operations}
    transaction = by_name[f"transaction ({TRANSACTION_ENTRIES} entries)"]
    checks = [
        ("read p50", by_name["read"].p50_ms, TARGET_READ_P50_MS),
        (f"transaction ({TRANSACTION_ENTRIES} entries) p50", transaction.p50_ms, TARGET_TRANSACTION_P50_MS),
    ]
    for name, measured, limit in checks:
        results.targets.append({"target": name, "limit_ms": limit, "measured_ms": measured, "pass": measured <= limit})
    results.targets[-1]["p95_ms"] = transaction.p95_ms


def table(results: Results) -> str:
    header = f"{'operation':<34} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8} {'req/s':>8}"
    lines = [header, "-" * len(header)]

    def rows(title: str, group: list[Stats]) -> None:
        lines.append(title)
        for stats in group:
            lines.append(
                f"  {stats.operation:<32} {stats.count:>5} {stats.p50_ms:>8.2f} {stats.p95_ms:>8.2f}"
                f" {stats.p99_ms:>8.2f} {stats.mean_ms:>8.2f} {stats.throughput_per_s:>8.1f}"
            )
            if stats.connection_resets:
                lines.append(f"    ({stats.connection_resets} connection reset(s) by the server, request re-sent)")
            if stats.note:
                lines.append(f"    ({stats.note})")

    keep_alive = results.meta["server"]["keep_alive"]
    rows(f"single client, {'keep-alive' if keep_alive else 'new connection per request'} (ms)", results.operations)
    rows("concurrent (ms; req/s is the total)", results.concurrent)
    rows("baselines (ms)", results.baselines)
    lines.append("targets")
    for target in results.targets:
        verdict = "PASS" if target["pass"] else "FAIL"
        extra = f" (p95 {target['p95_ms']:.2f} ms)" if "p95_ms" in target else ""
        lines.append(
            f"  {target['target']:<44} {target['measured_ms']:>8.2f} ms <= {target['limit_ms']:.0f} ms"
            f"  {verdict}{extra}"
        )
    return "\n".join(lines)


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return f"{commit}+dirty" if git("status", "--porcelain").strip() else commit


def write_json(results: Results) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"fhir_api-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(asdict(results), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="far fewer iterations, for a smoke run")
    parser.add_argument(
        "--worker-class",
        choices=WORKER_CLASSES,
        default=WORKER_CLASSES[0],
        help="gunicorn worker class; sync closes the connection after every response (no keep-alive)",
    )
    parser.add_argument("--seed", type=int, default=2, help="random seed of the synthetic data and id choice")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    rng = random.Random(args.seed)
    started = time.perf_counter()
    try:
        url, where = server_url()
        progress(f"recreating database {BENCH_DATABASE!r} on the {where}")
        database_url = recreate_database(url, BENCH_DATABASE)
        progress("manage.py migrate")
        migrate(database_url)
        results = Results(meta=run_metadata(plan, args, where, database_url))
        progress(f"starting gunicorn ({WORKERS} workers x {THREADS} thread, {args.worker_class}, --preload)")
        with running_server(database_url, args.worker_class) as server:
            run_all(server, database_url, plan, rng, results)
    except (BenchError, requests.RequestException, psycopg.Error) as error:
        print(f"benchmark stopped: {error}", file=sys.stderr)
        return 1
    results.meta["duration_s"] = round(time.perf_counter() - started, 1)
    results.meta["machine"]["load_average_at_end"] = os.getloadavg()
    evaluate_targets(results)
    print(table(results))
    progress(f"results written to {write_json(results).relative_to(REPO_ROOT)} in {results.meta['duration_s']} s")
    return 0


def machine_facts() -> dict[str, Any]:
    """The machine a result file was measured on."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # Client, server and PostgreSQL share these cores: other load on the machine skews every figure.
        "load_average_at_start": os.getloadavg(),
    }


def run_metadata(plan: Plan, args: argparse.Namespace, where: str, database_url: str) -> dict[str, Any]:
    """Enough context to compare two result files: when, which code, which machine and configuration."""
    return {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "quick": args.quick,
        "seed": args.seed,
        "plan": asdict(plan),
        "machine": machine_facts(),
        "database": {"server": where, "name": BENCH_DATABASE, "postgresql": server_version(database_url)},
        "server": {
            "command": " ".join(["gunicorn", *gunicorn_command(0, args.worker_class)[1:]]).replace(":0", ":<port>"),
            "worker_class": args.worker_class,
            "keep_alive": args.worker_class != "sync",
            "settings": "config.settings.local, DEBUG=false, LOG_LEVEL=ERROR, DATABASE_CONN_MAX_AGE default (60 s)",
        },
        "client": "requests.Session per client thread, on the same machine"
        + ("" if args.worker_class == "gthread" else " (sync worker: a new connection per request)"),
    }


if __name__ == "__main__":
    sys.exit(main())
