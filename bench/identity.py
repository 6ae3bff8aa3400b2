"""Benchmark of identity linking: quality against the generator's ground truth, and linking speed.

Run it as `.venv/bin/python bench/identity.py [--people N] [--records M] [--workers W] [--database NAME]
[--region DIR] [--speed-only]` (default 10,000 people, 100,000 records, 2 workers; `--speed-only` repeats
the speed run from the database an earlier run left).

Quality: it recreates the `tsunagi_identity_bench` database (or NAME), generates a region (seed 1, default
noise; or reuses `--region DIR`), ingests every source with `manage.py ingest_region --no-link`, then links every
queued Patient with `manage.py identity_link --json` (timed). Each stored source Patient is matched to its
ground-truth person through truth/identity.csv (source code + the source's patient number), and the persons
the linker made are compared with the true persons pair by pair: a pair of records is a true positive when
the linker put them in one person and they are one person in truth, a false positive when it put them
together wrongly, a false negative when it kept apart what is one person. Precision and recall are over
those pairs (auto-links only: nothing a steward decided). The review queue is split into true and false
possible matches, and the recall a steward reaches by linking the true ones is given too.

Speed: a second database (NAME_scale) gets M source Patients: the region's own, then copies of them with
each copy's person moved to another birth year and given other card numbers (so a copy is a namesake, not
the same person, and blocks grow as they would in a bigger city). They are stored with the FHIR connector
(`ingest --no-link`), then linked with `identity_link --json`: the time for M records, with each batch's
median and p95. Results print and go to bench/results/identity-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from fhir_api import (
    RESULTS_DIR,
    VENV_BIN,
    django_env,
    git_commit,
    machine_facts,
    migrate,
    progress,
    recreate_database,
    server_url,
    server_version,
    with_database,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "tsunagi_identity_bench"
SCALE_SOURCE = "identity-scale"
SCALE_SYSTEM = "https://tsunagi.example.jp/fhir/IdSystem/patient/identity-scale"
RECORDS_SQL = (
    "SELECT pr.id, pr.person_id, pr.rule, r.content -> 'identifier' FROM federation_personrecord pr "
    "JOIN federation_resource r ON r.id = pr.patient_id"
)
REVIEWS_SQL = "SELECT record_id, candidate_id FROM federation_matchreview WHERE status = 'open'"


def manage(database_url: str, *arguments: str) -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=django_env(database_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode not in (0, 1):  # 1: something was quarantined, which the result reports
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def last_json(output: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return parsed


def timed_link(database_url: str) -> dict[str, Any]:
    started = time.perf_counter()
    linked = last_json(manage(database_url, "identity_link", "--json"))
    linked["wall_seconds"] = round(time.perf_counter() - started, 2)
    linked["records_per_second"] = round(linked["records"] / linked["seconds"], 1) if linked["seconds"] else 0.0
    return linked


# --- quality ------------------------------------------------------------------------------------------------------


def truth_of(region: Path) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(patient identifier system, number) -> true person; and each source's patient identifier system."""
    sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    systems = {source["code"]: source["patient_identifier_system"] for source in sources}
    truth: dict[tuple[str, str], str] = {}
    with (region / "truth" / "identity.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            truth[(systems[row["source_code"]], row["source_patient_id"])] = row["person_id"]
    return truth, systems


def linked_records(
    database_url: str, truth: dict[tuple[str, str], str]
) -> tuple[dict[int, tuple[int, str, str]], list[tuple[int, int]]]:
    """Each linked record: (its person, its true person, the rule that placed it); and the open reviews."""
    records: dict[int, tuple[int, str, str]] = {}
    with psycopg.connect(database_url) as connection:
        for record_id, person_id, rule, identifiers in connection.execute(RECORDS_SQL):
            true_person = next(
                (
                    truth[key]
                    for identifier in identifiers or []
                    if (key := (identifier.get("system", ""), identifier.get("value", ""))) in truth
                ),
                None,
            )
            if true_person is not None:
                records[record_id] = (person_id, true_person, rule)
        reviews = list(connection.execute(REVIEWS_SQL))
    return records, reviews


def pairs(groups: dict[Any, int]) -> int:
    return sum(size * (size - 1) // 2 for size in groups.values())


def confusion(
    records: dict[int, tuple[int, str, str]], merged_pairs: set[frozenset[int]] | None = None
) -> dict[str, Any]:
    """Pairwise confusion of the linker's persons against the true persons (optionally with persons joined by
    the true review items, as a steward would)."""
    person = {record: values[0] for record, values in records.items()}
    if merged_pairs:
        person = joined(person, merged_pairs)
    predicted = Counter(person.values())
    actual = Counter(values[1] for values in records.values())
    both = Counter((person[record], values[1]) for record, values in records.items())
    true_positive = pairs(both)
    false_positive = pairs(predicted) - true_positive
    false_negative = pairs(actual) - true_positive
    total = len(records) * (len(records) - 1) // 2
    return {
        "records": len(records),
        "true_persons": len(actual),
        "linked_persons": len(predicted),
        "true_positive_pairs": true_positive,
        "false_positive_pairs": false_positive,
        "false_negative_pairs": false_negative,
        "true_negative_pairs": total - true_positive - false_positive - false_negative,
        "precision": round(true_positive / (true_positive + false_positive), 5)
        if true_positive + false_positive
        else 1.0,
        "recall": round(true_positive / (true_positive + false_negative), 5) if true_positive + false_negative else 1.0,
    }


def joined(person: dict[int, int], merged: set[frozenset[int]]) -> dict[int, int]:
    """Persons after joining each pair of persons in `merged` (union-find over person ids)."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while parent.get(node, node) != node:
            node = parent[node]
        return node

    for pair in merged:
        first, second = sorted(pair)
        parent[root(second)] = root(first)
    return {record: root(value) for record, value in person.items()}


def quality(database_url: str, region: Path) -> dict[str, Any]:
    truth, _ = truth_of(region)
    records, reviews = linked_records(database_url, truth)
    true_person_of_person: dict[int, Counter[str]] = defaultdict(Counter)
    for person, true_person, _ in records.values():
        true_person_of_person[person][true_person] += 1
    true_reviews: set[frozenset[int]] = set()
    review_counts: Counter[str] = Counter()
    for record_id, candidate in reviews:
        if record_id not in records:
            continue
        record_person, record_truth, _ = records[record_id]
        is_true = record_truth in true_person_of_person.get(candidate, {})
        review_counts["true" if is_true else "false"] += 1
        if is_true:
            true_reviews.add(frozenset((record_person, candidate)))
    return {
        "stored_source_patients": len(records),
        "truth_rows": len(truth),
        "rules": dict(Counter(rule for _, _, rule in records.values())),
        "auto_links": confusion(records),
        "review_queue": {
            "open": len(reviews),
            "true_matches": review_counts["true"],
            "false_matches": review_counts["false"],
        },
        "after_steward_links_true_reviews": confusion(records, true_reviews),
    }


# --- speed --------------------------------------------------------------------------------------------------------


def scaled_patients(database_url: str, wanted: int) -> list[dict[str, Any]]:
    """`wanted` source Patients: the stored ones, then shifted copies (another birth year, other numbers)."""
    with psycopg.connect(database_url) as connection:
        originals = [
            content
            for (content,) in connection.execute(
                "SELECT r.content FROM federation_resource r JOIN federation_personrecord pr ON pr.patient_id = r.id"
            )
        ]
    patients: list[dict[str, Any]] = []
    copy = 0
    while len(patients) < wanted:
        for original in originals:
            if len(patients) == wanted:
                break
            patients.append(shifted(original, copy, len(patients)))
        copy += 1
    return patients


def shifted(patient: dict[str, Any], copy: int, number: int) -> dict[str, Any]:
    """Copy `copy` of a source Patient as a new record of the scale source: copy 0 is the same person, later
    copies are another person with the same name (born `copy` years later, other card numbers)."""
    left_out = ("id", "meta", "link", "identifier", "managingOrganization", "generalPractitioner")  # other sources'
    resource = {key: value for key, value in patient.items() if key not in left_out}
    resource["identifier"] = [{"system": SCALE_SYSTEM, "value": f"{number:08d}"}]
    for identifier in patient.get("identifier") or []:
        if "Insurance_memberID" in identifier.get("system", "") or "ltc-insured-number" in identifier.get("system", ""):
            resource["identifier"].append({**identifier, "value": f"{identifier.get('value', '')}#{copy}"})
    birth = patient.get("birthDate")
    if copy and isinstance(birth, str) and len(birth) == 10:
        born = date.fromisoformat(birth)
        resource["birthDate"] = born.replace(year=born.year + copy, day=min(born.day, 28)).isoformat()
    return resource


def speed(server: str, database: str, source_database_url: str, records: int, workers: int) -> dict[str, Any]:
    database_url = recreate_database(server, f"{database}_scale")
    migrate(database_url)
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "Patient.ndjson"
        with export.open("w", encoding="utf-8") as out:
            for patient in scaled_patients(source_database_url, records):
                out.write(json.dumps(patient, ensure_ascii=False) + "\n")
        manage(
            database_url, "add_source", "--code", SCALE_SOURCE, "--connector", "fhir", "--organization-name",
            "Identity scale test", "--patient-identifier-system", SCALE_SYSTEM,
        )  # fmt: skip
        progress(f"storing {records} Patients for the linking run")
        manage(database_url, "ingest", "--no-link", "--json", "--connector", "fhir", "--source", SCALE_SOURCE,
               "--workers", str(workers), str(export))  # fmt: skip
    progress("linking them")
    return timed_link(database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=100_000, help="source Patients for the speed run (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default=BENCH_DATABASE)
    parser.add_argument("--region", type=Path, help="a generated region to reuse instead of generating one")
    parser.add_argument(
        "--speed-only", action="store_true", help="only the speed run, from the source Patients of an earlier run"
    )
    options = parser.parse_args()
    server, server_description = server_url()
    if options.speed_only:
        source_url = with_database(server, options.database)
        meta = {"commit": git_commit(), "when": datetime.now().isoformat(timespec="seconds"), **machine_facts()}
        write_result(
            {"meta": meta, "speed": speed(server, options.database, source_url, options.records, options.workers)}
        )
        return
    database_url = recreate_database(server, options.database)
    migrate(database_url)
    result: dict[str, Any] = {
        "meta": {
            "commit": git_commit(),
            "when": datetime.now().isoformat(timespec="seconds"),
            "people": options.people,
            "workers": options.workers,
            "database": f"{server_description}, PostgreSQL {server_version(database_url)}",
            **machine_facts(),
        }
    }
    with tempfile.TemporaryDirectory() as folder:
        region = options.region or Path(folder) / "region"
        if options.region is None:
            progress(f"generating a region of {options.people} people")
            manage(database_url, "generate_region", "--people", str(options.people), "--seed", "1", "--out",
                   str(region), "--workers", str(options.workers))  # fmt: skip
        progress("ingesting it without linking")
        started = time.perf_counter()
        ingested = last_json(manage(database_url, "ingest_region", "--no-link", "--json", "--workers",
                                    str(options.workers), str(region)))  # fmt: skip
        result["ingest"] = {"seconds": round(time.perf_counter() - started, 1), "records": ingested["records"]}
        progress("linking every source Patient")
        result["link"] = timed_link(database_url)
        result["quality"] = quality(database_url, region)
    if options.records:
        result["speed"] = speed(server, options.database, database_url, options.records, options.workers)
    write_result(result)


def write_result(result: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"identity-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    progress(f"written to {out}")


if __name__ == "__main__":
    main()
