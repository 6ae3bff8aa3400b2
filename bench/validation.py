"""Benchmark of structural validation: the R4B model alone against the fast check that answers first.

Run it as `.venv/bin/python bench/validation.py [--rounds N] [--people N | --region DIR]`. Two sets of
resources: every resource in fixtures/ (FHIR examples, Synthea, the connectors' golden files; a few are
invalid) and the entries of a generated region's FHIR clinic Bundles (generated with seed 1 into a
temporary folder, or read from an existing `manage.py generate_region` output). Each resource is
validated once per round by each path, `r4b.model_issues` (the model, as before) and
`r4b.validation_issues` (the fast check, then the model when it is unsure), timed one call at a time;
the path that goes first alternates between rounds. Prints median and p95 microseconds per resource,
the speedup and how many resources the fast check settled; results go to
bench/results/validation-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from fhir_api import RESULTS_DIR, git_commit, machine_facts, percentile  # noqa: E402

from core import fhir_json  # noqa: E402
from federation.fhir import r4b  # noqa: E402
from federation.fhir.r4b_structure import surely_valid  # noqa: E402

FIXTURES = REPO_ROOT / "fixtures"
AS_OF = date(2026, 3, 31)


def resources_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object with a resourceType in `node`, outermost first."""
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str):
            yield node
        for value in node.values():
            yield from resources_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from resources_in(item)


def fixture_resources() -> list[dict[str, Any]]:
    """Every resource in fixtures/, but those the model raises on (an unknown type inside a Bundle)."""
    found: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix not in (".json", ".ndjson"):
            continue
        for line in [path.read_bytes()] if path.suffix == ".json" else path.read_bytes().splitlines():
            try:
                found.extend(resources_in(fhir_json.loads(line)))
            except ValueError:
                continue  # fixtures of broken input
    return [resource for resource in found if answers(resource)]


def answers(resource: dict[str, Any]) -> bool:
    try:
        r4b.model_issues(resource)
    except Exception:
        return False
    return True


def region_resources(region: Path) -> list[dict[str, Any]]:
    """The entries of the region's FHIR Bundles (the FHIR clinic's files)."""
    found: list[dict[str, Any]] = []
    for path in sorted((region / "sources").glob("*/*.json")):
        bundle = fhir_json.loads(path.read_bytes())
        if bundle.get("resourceType") == "Bundle":
            found.extend(entry["resource"] for entry in bundle.get("entry", []))
    return found


def generated_region(people: int, scratch: Path) -> Path:
    import django

    django.setup()
    from synthetic.region import RegionSpec, region_generate

    out = scratch / "region"
    out.mkdir()
    region_generate(RegionSpec(seed=1, people=people, as_of=AS_OF), out)
    return out


def timed(check: Callable[[dict[str, Any]], Any], resources: list[dict[str, Any]]) -> list[float]:
    """Microseconds of each call."""
    times: list[float] = []
    for resource in resources:
        started = time.perf_counter_ns()
        check(resource)
        times.append((time.perf_counter_ns() - started) / 1000)
    return times


def compare(resources: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    for resource in resources:  # warm up: models built, Shapes compiled
        r4b.validation_issues(resource)
    paths = {"model": r4b.model_issues, "fast first": r4b.validation_issues}
    times: dict[str, list[float]] = {name: [] for name in paths}
    for number in range(rounds):
        order = list(paths) if number % 2 == 0 else list(reversed(paths))
        for name in order:
            times[name].extend(timed(paths[name], resources))
    result: dict[str, Any] = {
        "resources": len(resources),
        "valid": sum(not r4b.model_issues(resource) for resource in resources),
        "settled_by_fast_check": sum(surely_valid(resource) for resource in resources),
    }
    for name, values in times.items():
        ordered = sorted(values)
        result[name] = {
            "median_us": round(statistics.median(ordered), 1),
            "p95_us": round(percentile(ordered, 95), 1),
            "mean_us": round(statistics.fmean(ordered), 1),
        }
    result["speedup_median"] = round(result["model"]["median_us"] / result["fast first"]["median_us"], 1)
    result["speedup_mean"] = round(result["model"]["mean_us"] / result["fast first"]["mean_us"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--people", type=int, default=200, help="people in the generated region")
    parser.add_argument("--region", type=Path, help="an existing generate_region output, instead of generating")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tsunagi-validation-bench-"))
    try:
        region = args.region or generated_region(args.people, scratch)
        sets = {"fixtures": fixture_resources(), "region FHIR Bundles": region_resources(region)}
        result: dict[str, Any] = {
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine": machine_facts(),
            "rounds": args.rounds,
            "sets": {name: compare(resources, args.rounds) for name, resources in sets.items()},
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(result)


def report(result: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"validation-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    header = f"{'set':22} {'resources':>9} {'valid':>6} {'fast':>6}"
    print(f"{header}  {'model med/p95 us':>17}  {'fast first med/p95 us':>21}  speedup")
    for name, row in result["sets"].items():
        model, fast = row["model"], row["fast first"]
        print(
            f"{name:22} {row['resources']:9} {row['valid']:6} {row['settled_by_fast_check']:6}  "
            f"{model['median_us']:8} / {model['p95_us']:6}  {fast['median_us']:12} / {fast['p95_us']:6}  "
            f"{row['speedup_median']}x median, {row['speedup_mean']}x mean"
        )
    print(f"written to {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
