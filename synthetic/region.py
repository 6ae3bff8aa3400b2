"""Generate a region into a folder: plan the households, live them out in chunks (in parallel), write each
source's files and the ground truth, then join the shared tables.

Output is a function of (seed, people, as_of, years) only: the same bytes whatever the number of workers.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType

from synthetic.care import CareFacilities, live_care
from synthetic.clinical import live_health, pick_caregivers
from synthetic.indicators import INDICATORS, tally
from synthetic.model import Person, Region
from synthetic.output import ChunkOutput, join_parts
from synthetic.population import PlannedHousehold, household_heads_mark, household_plan, people_of
from synthetic.views import views_build
from synthetic.world import region_build
from synthetic.writers import care_csv, fhir_bundle, jahis, resident_register, ssmix2

WRITERS: dict[str, ModuleType] = {
    "ssmix2": ssmix2,
    "jahis": jahis,
    "care": care_csv,
    "fhir": fhir_bundle,
    "resident-register": resident_register,
}
HOUSEHOLDS_PER_CHUNK = 200
IDENTITY_HEADER = b"person_id,source_code,source_patient_id\n"
PEOPLE_HEADER = (
    b"person_id,family_name,given_name,family_name_kana,given_name_kana,sex,birth_date,death_date,"
    b"household_id,district,twin_of\n"
)


@dataclass(frozen=True, slots=True)
class RegionSpec:
    seed: int
    people: int
    as_of: date
    years: int = 1


@dataclass(slots=True)
class ChunkResult:
    chunk: int
    people: int
    records: Counter[str] = field(default_factory=Counter)  # people per source
    seconds: float = 0.0  # wall time of the chunk, for the benchmark
    indicators: dict[str, Counter[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _ChunkTask:
    root: Path
    region: Region
    chunk: int
    households: tuple[PlannedHousehold, ...]


def region_generate(
    spec: RegionSpec,
    out: Path,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    chunk_seconds: list[float] | None = None,
) -> dict[str, object]:
    """Write the region to `out` (which must exist and be empty); returns the summary also in region.json."""
    region = region_build(seed=spec.seed, people=spec.people, as_of=spec.as_of, years=spec.years)
    plan = household_plan(spec.seed, spec.people)
    tasks = [
        _ChunkTask(out, region, number + 1, tuple(plan[start : start + HOUSEHOLDS_PER_CHUNK]))
        for number, start in enumerate(range(0, len(plan), HOUSEHOLDS_PER_CHUNK))
    ]
    _write_sources_once(region, out)
    done = 0
    records: Counter[str] = Counter()
    indicators: dict[str, Counter[str]] = {district: Counter() for district in region.districts}
    for result in _results(tasks, workers):
        done += result.people
        records.update(result.records)
        for district, counts in result.indicators.items():
            indicators[district].update(counts)
        if progress is not None:
            progress(done, spec.people)
        if chunk_seconds is not None:
            chunk_seconds.append(result.seconds)
    join_parts(out)
    summary = _summary(region, len(plan), records)
    _write_json(out / "region.json", summary)
    _write_json(out / "sources.json", {"sources": _sources(region)})
    _write_json(out / "truth" / "indicators.json", _indicator_document(region, indicators))
    return summary


def _results(tasks: list[_ChunkTask], workers: int) -> Iterator[ChunkResult]:
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_run_chunk, tasks)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_run_chunk, tasks)


def _write_sources_once(region: Region, out: Path) -> None:
    """Per-source files that belong to no person (table headers), as chunk 0 so they come first."""
    for institution in region.institutions:
        source = ChunkOutput(out, f"sources/{institution.code}", 0)
        WRITERS[institution.connector].write_institution(region, institution, source)
        source.close()
    truth = ChunkOutput(out, "truth", 0)
    truth.append_rows("identity.csv", IDENTITY_HEADER, b"")
    truth.append_rows("people.csv", PEOPLE_HEADER, b"")
    truth.close()


def _run_chunk(task: _ChunkTask) -> ChunkResult:
    started = time.perf_counter()
    region = task.region
    caregivers = pick_caregivers(region)
    facilities = CareFacilities(region)
    institutions = {institution.code: institution for institution in region.institutions}
    outputs: dict[str, ChunkOutput] = {}
    truth = ChunkOutput(task.root, "truth", task.chunk)
    result = ChunkResult(task.chunk, 0)
    people: list[Person] = []
    identity, roster = io.StringIO(), io.StringIO()
    for household in task.households:
        members: list[Person] = []
        for person, rng in people_of(region, household):
            needs = live_health(region, person, rng, caregivers)
            live_care(region, person, rng, needs, facilities)
            views_build(region, person, household.first_person + len(members), rng)
            members.append(person)
        household_heads_mark(members, region.as_of)
        for person in members:
            for code in sorted(person.views):
                institution = institutions[code]
                output = outputs.get(code)
                if output is None:
                    output = outputs[code] = ChunkOutput(task.root, f"sources/{code}", task.chunk)
                WRITERS[institution.connector].write_person(region, institution, person, output)
                identity.write(f"{person.person_id},{code},{person.views[code].patient_id}\n")
                result.records[code] += 1
            _roster_row(roster, region, person)
        people.extend(members)
        result.people += len(members)
    result.indicators = tally(region, people)
    truth.append_rows("identity.csv", IDENTITY_HEADER, identity.getvalue().encode())
    truth.append_rows("people.csv", PEOPLE_HEADER, roster.getvalue().encode())
    truth.close()
    for output in outputs.values():
        output.close()
    result.seconds = time.perf_counter() - started
    return result


def _roster_row(roster: io.StringIO, region: Region, person: Person) -> None:
    last_day = person.death if person.death is not None else region.as_of
    residence = person.residence_on(last_day)
    name = person.name
    csv.writer(roster, lineterminator="\n").writerow(
        (
            person.person_id,
            name.family_kanji,
            name.given_kanji,
            name.family_kana,
            name.given_kana,
            person.sex.value,
            person.birth_date.isoformat(),
            person.death.isoformat() if person.death else "",
            residence.household_id,
            residence.address.district,
            person.twin_of or "",
        )
    )


def _sources(region: Region) -> list[dict[str, object]]:
    return [
        {
            "code": institution.code,
            "kind": institution.connector,
            "institution_kind": institution.kind.value,
            "organization": {
                "name": institution.name,
                "identifier": {"system": institution.organization_system, "value": institution.organization_number},
            },
            "patient_identifier_system": institution.patient_identifier_system,
            "path": f"sources/{institution.code}",
        }
        for institution in region.institutions
    ]


def _summary(region: Region, households: int, records: Counter[str]) -> dict[str, object]:
    return {
        "seed": region.seed,
        "people": region.people,
        "households": households,
        "start": region.start.isoformat(),
        "as_of": region.as_of.isoformat(),
        "municipality": {"name": region.city, "code": region.municipality_code, "prefecture": region.prefecture},
        "districts": list(region.districts),
        "people_per_source": {code: records[code] for code in sorted(records)},
    }


def _indicator_document(region: Region, indicators: dict[str, Counter[str]]) -> dict[str, object]:
    total: Counter[str] = Counter()
    for counts in indicators.values():
        total.update(counts)
    return {
        "as_of": region.as_of.isoformat(),
        "districts": {
            district: {name: indicators[district][name] for name in INDICATORS} for district in region.districts
        },
        "total": {name: total[name] for name in INDICATORS},
    }


def _write_json(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
