"""The generated region as a whole: deterministic bytes, sources.json, and truth that agrees with the files."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import hl7
import pytest

from federation.fhir.r4b import validation_issues
from synthetic.indicators import CARE_LEVEL_KEYS, INDICATORS
from synthetic.population import household_plan, people_of
from synthetic.region import RegionSpec, region_generate
from synthetic.world import region_build

AS_OF = date(2026, 3, 31)
SPEC = RegionSpec(seed=11, people=300, as_of=AS_OF)


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


def _source_files(root: Path, kind: str) -> list[Path]:
    sources = json.loads((root / "sources.json").read_text(encoding="utf-8"))["sources"]
    return [
        path
        for source in sources
        if source["kind"] == kind
        for path in sorted((root / source["path"]).rglob("*"))
        if path.is_file()
    ]


def test_every_ssmix2_file_decodes_from_iso2022jp_and_parses_as_hl7_v25(generated):
    files = _source_files(generated, "ssmix2")
    assert len(files) > 100
    for path in files:
        text = path.read_bytes().decode("iso2022_jp")
        message = hl7.parse(text)
        assert str(message.segment("MSH")[12]) == "2.5", path
        data_type = path.parent.name
        assert path.name.split("_")[2] == data_type
        assert (
            str(message.segment("MSH")[9]).split("^")[0]
            == {"ADT": "ADT", "PPR": "PPR", "OMP": "RDE", "OML": "OUL"}[data_type[:3]]
        ), path


def test_every_jahis_file_decodes_from_cp932_and_starts_with_a_jahistc_header(generated):
    files = _source_files(generated, "jahis")
    assert len(files) > 20
    for path in files:
        text = path.read_bytes().decode("cp932")
        assert re.match(r"JAHISTC\d{2},[12]\r\n", text), path
        assert text.endswith("\r\n")


def test_every_fhir_bundle_validates_as_r4(generated):
    files = _source_files(generated, "fhir")
    assert files
    for path in files:
        bundle = json.loads(path.read_bytes())
        assert bundle["type"] == "transaction"
        assert validation_issues(bundle) == [], path.name


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("cp932"), newline="")))


def test_care_indicators_agree_with_the_care_records(generated):
    """Who is certified, and at which level, on the end date — read back from the care CSVs via the truth."""
    person_of = {(row["source_code"], row["source_patient_id"]): row["person_id"] for row in _identity(generated)}
    people = {row["person_id"]: row for row in _people(generated)}
    document = json.loads((generated / "truth" / "indicators.json").read_text(encoding="utf-8"))
    levels: dict[str, str] = {}
    for path in _source_files(generated, "care"):
        if path.name != "certifications.csv":
            continue
        source = path.parent.name
        for row in _csv(path):
            as_of = AS_OF.strftime("%Y%m%d")
            if row["有効期間開始"] <= as_of <= row["有効期間終了"] and row["認定日"] <= as_of:
                levels[person_of[(source, row["利用者番号"])]] = row["要介護状態区分コード"]
    residents = {
        person_id for person_id, row in people.items() if not row["death_date"] or row["death_date"] > AS_OF.isoformat()
    }
    counted = Counter(CARE_LEVEL_KEYS[code] for person_id, code in levels.items() if person_id in residents)
    assert document["total"]["care_certified"] == sum(counted.values())
    for key in CARE_LEVEL_KEYS.values():
        assert document["total"][key] == counted[key], key


def test_living_alone_agrees_with_the_resident_register(generated):
    register = _csv(generated / "sources" / "municipality" / "residents.csv")
    living = [row for row in register if row["状態"] == "住民"]
    households = Counter(row["世帯番号"] for row in living)
    as_of = AS_OF.strftime("%Y%m%d")

    def age(row: dict[str, str]) -> int:
        born = row["生年月日"]
        return AS_OF.year - int(born[:4]) - (as_of[4:] < born[4:])

    document = json.loads((generated / "truth" / "indicators.json").read_text(encoding="utf-8"))
    assert len(living) == document["total"]["residents"]
    alone = sum(age(row) >= 65 and households[row["世帯番号"]] == 1 for row in living)
    assert document["total"]["living_alone_65_plus"] == alone


def test_twins_never_share_a_given_name():
    """Identity linking's ground truth counts twins as two people; the same name would make them one."""
    region = region_build(seed=1, people=6_000, as_of=AS_OF, years=5)
    twins = 0
    for household in household_plan(1, 6_000):
        members = [person for person, _ in people_of(region, household)]
        by_id = {person.person_id: person for person in members}
        for person in members:
            if person.twin_of:
                twins += 1
                assert person.name.given_kanji != by_id[person.twin_of].name.given_kanji
    assert twins >= 10
