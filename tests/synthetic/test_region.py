"""The generated region as a whole: deterministic bytes, sources.json, and truth that agrees with the files."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from synthetic.indicators import INDICATORS
from synthetic.population import household_plan
from synthetic.region import RegionSpec, region_generate

AS_OF = date(2026, 3, 31)
SPEC = RegionSpec(seed=11, people=160, as_of=AS_OF)


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out: Path = tmp_path_factory.mktemp("region")
    region_generate(SPEC, out, workers=1)
    return out


def test_same_seed_same_bytes_whatever_the_number_of_workers(generated, tmp_path):
    region_generate(SPEC, tmp_path, workers=2)
    assert _tree_digest(tmp_path) == _tree_digest(generated)


def test_another_seed_gives_another_region(generated, tmp_path):
    region_generate(RegionSpec(seed=12, people=160, as_of=AS_OF), tmp_path)
    assert (tmp_path / "truth" / "people.csv").read_bytes() != (generated / "truth" / "people.csv").read_bytes()


def test_sources_json_lists_every_source_with_its_folder(generated):
    sources = json.loads((generated / "sources.json").read_text(encoding="utf-8"))["sources"]
    kinds = Counter(source["kind"] for source in sources)
    assert set(kinds) == {"ssmix2", "jahis", "care", "fhir", "resident-register"}
    assert kinds["fhir"] == 1
    assert kinds["resident-register"] == 1
    for source in sources:
        assert set(source) >= {"code", "kind", "organization", "patient_identifier_system", "path"}
        assert source["organization"]["name"]
        assert set(source["organization"]["identifier"]) == {"system", "value"}
        assert (generated / source["path"]).is_dir()


def _identity(root: Path) -> list[dict[str, str]]:
    with (root / "truth" / "identity.csv").open(encoding="utf-8", newline="") as rows:
        reader = csv.DictReader(rows)
        assert reader.fieldnames == ["person_id", "source_code", "source_patient_id"]
        return list(reader)


def _people(root: Path) -> list[dict[str, str]]:
    with (root / "truth" / "people.csv").open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows))


def test_identity_truth_names_every_person_once_per_source(generated):
    identity = _identity(generated)
    people = {row["person_id"] for row in _people(generated)}
    assert len(people) == SPEC.people
    assert {row["person_id"] for row in identity} == people  # everyone is in the resident register at least
    pairs = Counter((row["person_id"], row["source_code"]) for row in identity)
    assert max(pairs.values()) == 1
    by_source = Counter(row["source_code"] for row in identity)
    assert by_source["municipality"] == SPEC.people
    numbers = Counter((row["source_code"], row["source_patient_id"]) for row in identity)
    assert max(numbers.values()) == 1, "a source's patient number belongs to one person"


def test_every_source_patient_id_is_in_that_sources_files(generated):
    """The truth is about the records: each (source, patient id) pair is found in the source's files."""
    sources = {s["code"]: s for s in json.loads((generated / "sources.json").read_text(encoding="utf-8"))["sources"]}
    haystacks: dict[str, str] = {}
    for code, source in sources.items():
        folder = generated / source["path"]
        names = " ".join(str(path.relative_to(folder)) for path in folder.rglob("*"))
        tables = " ".join(
            path.read_bytes().decode("cp932") for path in folder.rglob("*.csv") if source["kind"] != "jahis"
        )
        haystacks[code] = names + " " + tables
    for row in _identity(generated):
        assert row["source_patient_id"] in haystacks[row["source_code"]], row


def test_indicator_document_has_the_fixed_shape_and_adds_up(generated):
    document = json.loads((generated / "truth" / "indicators.json").read_text(encoding="utf-8"))
    assert document["as_of"] == AS_OF.isoformat()
    districts = json.loads((generated / "region.json").read_text(encoding="utf-8"))["districts"]
    assert list(document["districts"]) == districts
    for counts in document["districts"].values():
        assert list(counts) == list(INDICATORS)
    for name in INDICATORS:
        assert document["total"][name] == sum(counts[name] for counts in document["districts"].values())


def test_resident_and_age_indicators_agree_with_the_people_truth(generated):
    document = json.loads((generated / "truth" / "indicators.json").read_text(encoding="utf-8"))
    alive = [row for row in _people(generated) if not row["death_date"] or row["death_date"] > AS_OF.isoformat()]

    def age(row: dict[str, str]) -> int:
        born = date.fromisoformat(row["birth_date"])
        return AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))

    assert document["total"]["residents"] == len(alive)
    assert document["total"]["aged_65_plus"] == sum(age(row) >= 65 for row in alive)
    assert document["total"]["aged_75_plus"] == sum(age(row) >= 75 for row in alive)
    households = Counter(row["household_id"] for row in alive)
    alone = sum(age(row) >= 65 and households[row["household_id"]] == 1 for row in alive)
    assert document["total"]["living_alone_65_plus"] == alone
    for row in alive:
        assert row["district"] in document["districts"]


def test_age_structure_follows_japan():
    ages = [member.age for household in household_plan(3, 30_000) for member in household.members]
    assert len(ages) == 30_000
    assert 0.27 <= sum(age >= 65 for age in ages) / len(ages) <= 0.31
    assert 0.14 <= sum(age >= 75 for age in ages) / len(ages) <= 0.18
    households = household_plan(3, 30_000)
    elderly_alone = sum(len(h.members) == 1 and h.members[0].age >= 65 for h in households)
    assert 0.15 <= elderly_alone / sum(age >= 65 for age in ages) <= 0.25


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "generate_region", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.parametrize("people", ["0", "-5"])
def test_no_people_is_a_usage_error(tmp_path, people):
    result = _run("--people", people, "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--people" in result.stderr


def test_non_empty_folder_needs_force(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = _run("--people", "5", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert (tmp_path / "keep.txt").exists()

    forced = _run("--people", "5", "--out", str(tmp_path), "--force", "--workers", "1", "--verbosity", "0")
    assert forced.returncode == 0, forced.stderr
    assert not (tmp_path / "keep.txt").exists()
    assert (tmp_path / "truth" / "identity.csv").exists()


def test_unwritable_folder_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _run("--people", "5", "--out", str(blocker / "region"))
    assert result.returncode == 2
    assert "not writable" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_insured_key_follows_jp_core_width_rule():
    from synthetic.model import HealthInsurance, InsuranceKind

    national = HealthInsurance(InsuranceKind.NATIONAL, "229989", "綱12", "0000042", "01", False, AS_OF)
    assert national.insured_key == "00229989:綱１２:0000042:01"
    late = HealthInsurance(InsuranceKind.LATE_ELDERLY, "39229992", "", "12345678", "", False, AS_OF)
    assert late.insured_key == "39229992::12345678:"
