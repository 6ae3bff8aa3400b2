"""The ssmix2 connector: the storage tree (order, file names, condition flags) and its golden files."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from django.core.management import call_command

from connectors.base import ParsedRecord, SourceInfo
from connectors.ssmix2.connector import CONNECTOR, StorageNameError, stored_file
from core import fhir_json
from federation.fhir.r4b import validation_issues
from tests.connectors.golden import as_json, assert_references_located, problems
from tests.connectors.test_hl7v2 import SOURCE as HL7V2_SOURCE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ssmix2"
TREES = sorted(path for path in FIXTURES.iterdir() if path.is_dir())
SOURCE = replace(HL7V2_SOURCE, connector="ssmix2")
GENERATED = FIXTURES / "storage__generated" / "113" / "281" / "1132816567"
TARO = FIXTURES / "storage__sample-patient"
JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
HOT9 = "http://medis.or.jp/CodeSystem/master-HOT9"
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"


def tree_records(root: Path, source: SourceInfo = SOURCE) -> list[ParsedRecord]:
    """Every record of the tree, file by file in the order `paths` gives, as the pipeline reads them."""
    found: list[ParsedRecord] = []
    for path in CONNECTOR.paths(root):
        with path.open("rb") as stream:
            found += CONNECTOR.records(source, stream, path.relative_to(root).as_posix())
    return found


def resources(records: list[ParsedRecord], resource_type: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for record in records
        for entry in record.entries
        if entry.get("resource", {}).get("resourceType") == resource_type
    ]


@pytest.mark.parametrize("tree", TREES, ids=lambda tree: tree.name)
def test_golden_tree(tree):
    expected = tree.with_name(tree.name + ".expected.json")
    records = tree_records(tree)
    assert as_json(records) == fhir_json.loads(expected.read_bytes())
    assert_references_located(records)


def test_every_entry_validates_against_fhir_r4():
    found = [resource for tree in TREES for record in tree_records(tree) for resource in _resources_of(record)]
    assert len(found) > 60
    assert [(r["resourceType"], issue) for r in found for issue in validation_issues(r)] == []


def _resources_of(record: ParsedRecord) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in record.entries if "resource" in entry]


def test_the_sample_patient_arrives_with_kanji_and_kana_names_hot_codes_and_jlac10_codes():
    """患者 太郎 (9999013), the SS-MIX2 specification's example patient, from the real sample tree."""
    found = tree_records(TARO)
    master = next(
        entry["resource"] for record in found for entry in record.entries if entry["request"]["method"] == "PUT"
    )
    assert master["resourceType"] == "Patient"
    assert master["identifier"][0] == {"system": SOURCE.patient_identifier_system, "value": "9999013"}
    names = {name["extension"][0]["valueCode"]: name for name in master["name"]}
    assert names["IDE"]["text"] == "患者 太郎"
    assert (names["IDE"]["family"], names["IDE"]["given"]) == ("患者", ["太郎"])
    assert names["SYL"]["text"] == "カンジャ タロウ"
    assert all(name["extension"][0]["url"] == NAME_REPRESENTATION for name in master["name"])
    prescribed = {
        coding["code"]
        for request in resources(found, "MedicationRequest")
        for coding in request.get("medicationCodeableConcept", {}).get("coding", [])
        if coding["system"] == HOT9
    }
    assert {"108665201", "110626901", "100607002"} <= prescribed
    measured = {
        coding["code"]
        for observation in resources(found, "Observation")
        for coding in observation["code"]["coding"]
        if coding["system"] == JLAC10
    }
    assert {"3A016000002327102", "3A010000002327101", "3A015000002327101"} <= measured
    patients = {
        entry["resource"]["identifier"][0]["value"]
        for record in found
        for entry in record.entries
        if entry.get("resource", {}).get("resourceType") == "Patient"
    }
    assert patients == {"9999013"}  # the file name's patient ID, whatever PID-3 of a sample file says


def test_paths_put_the_patient_master_first_then_follow_the_event_time():
    order = [path.relative_to(TARO).as_posix() for path in CONNECTOR.paths(TARO)]
    assert "/ADT-00/" in order[0]
    stamps = [PurePosixPath(path).name.split("_")[4] for path in order[1:]]
    assert stamps == sorted(stamps)


def _tree(tmp_path: Path, flags: dict[str, str]) -> Path:
    """A copy of the generated patient's files whose condition flags are set by data type."""
    root = tmp_path / "storage"
    for path in sorted(GENERATED.rglob("*")):
        if path.is_file():
            kind = path.parent.name
            target = root / "113" / "281" / "1132816567" / path.relative_to(GENERATED)
            target = target.with_name(target.name[:-1] + flags.get(kind, "1"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return root


def test_superseded_files_are_left_out_and_deleted_ones_delete_what_they_had_written(tmp_path):
    current = tree_records(_tree(tmp_path / "current", {}))
    changed_root = _tree(tmp_path / "changed", {"ADT-12": "2", "OML-11": "0"})
    changed = [path.parent.name + "_" + path.name[-1] for path in CONNECTOR.paths(changed_root)]
    assert "ADT-12_2" not in changed
    assert changed.count("OML-11_0") == 2
    deleted = [record for record in tree_records(changed_root) if record.location.split("/")[-2] == "OML-11"]
    written = [
        entry["request"]["url"]
        for record in current
        if record.location.split("/")[-2] == "OML-11"
        for entry in record.entries
        if entry["resource"]["resourceType"] != "Patient"
    ]
    assert [entry for record in deleted for entry in record.entries] == [
        {"request": {"method": "DELETE", "url": url}} for url in written
    ]
    assert len(written) == 22  # two panels: 6 + 3 results and 2 reports each


def test_a_corrected_order_updates_the_resources_of_the_first_one(tmp_path):
    """A correction is a new file with a newer 発生日時 (the old one flagged 2): the record keys stay."""
    root = _tree(tmp_path, {})
    first = next(path for path in CONNECTOR.paths(root) if path.parent.name == "OMP-01")
    parts = first.name.split("_")
    parts[4] = "20250425090000000"
    corrected = first.with_name("_".join(parts))
    first.rename(first.with_name(first.name[:-1] + "2"))
    shutil.copyfile(first.with_name(first.name[:-1] + "2"), corrected)
    urls = [
        [entry["request"]["url"] for entry in record.entries]
        for record in tree_records(root)
        if "/OMP-01/" in record.location
    ]
    assert len(urls) == 1
    with first.with_name(first.name[:-1] + "2").open("rb") as stream:
        original = next(CONNECTOR.records(SOURCE, stream, first.relative_to(root).as_posix()))
    assert urls[0] == [entry["request"]["url"] for entry in original.entries]


def test_a_file_name_outside_the_pattern_is_yielded_and_reported(tmp_path):
    root = _tree(tmp_path, {})
    (root / "113" / "281" / "1132816567" / "20250405" / "ADT-12" / "copy of a visit.hl7").write_bytes(b"MSH|")
    (root / ".index.db").write_bytes(b"")
    paths = [path.name for path in CONNECTOR.paths(root)]
    assert paths[-1] == "copy of a visit.hl7"
    assert ".index.db" not in paths
    reported = problems(tree_records(root))
    assert reported == [
        (
            "113/281/1132816567/20250405/ADT-12/copy of a visit.hl7",
            "file name",
            "file name 'copy of a visit.hl7' does not follow the SS-MIX2 pattern "
            "<患者ID>_<診療日>_<データ種別>_<オーダNo>_<発生日時>_<診療科>_<コンディションフラグ>",
        )
    ]


def test_the_crawl_skips_hidden_entries_and_does_not_follow_links_to_folders(tmp_path):
    root = _tree(tmp_path, {})
    patient = root / "113" / "281" / "1132816567"
    before = list(CONNECTOR.paths(root))
    visit = next(path for path in before if path.parent.name == "OMP-01")
    (patient / ".cache").mkdir()
    shutil.copyfile(visit, patient / ".cache" / visit.name)
    shutil.copyfile(visit, visit.with_name("." + visit.name))
    (patient / "elsewhere").symlink_to(visit.parent, target_is_directory=True)
    (root / "114").mkdir()
    (root / "114" / "README").write_bytes(b"not a message")
    after = list(CONNECTOR.paths(root))
    assert after == [*before, root / "114" / "README"]


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1", "9999013.ADT-00"),
        (
            "9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1",
            "9999013.20110701.OMP-01.000000011000185",
        ),
        (
            "999/901/9999013/20111120/ADT-22/9999013_20111120_ADT-22_999999999999999_20111220224447339_01_1",
            "9999013.20111120.ADT-22.999999999999999.20111220224447339",
        ),
    ],
)
def test_record_keys_follow_the_logical_id_convention(path, key):
    assert stored_file(path).key == key


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (
            "999/901/1234567/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1",
            "the file is in patient folder '1234567', but its name says patient '9999013'",
        ),
        (
            "999/902/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1",
            "patient '9999013' belongs under '999/901/', not '999/902/'",
        ),
        (
            "20111121/ADT-22/9999013_20111120_ADT-22_999999999999999_20111220224447339_01_1",
            "the file is in visit date folder '20111121', but its name says '20111120'",
        ),
        (
            "9999013_20111120_ADT-22_999999999999999_20111232224447339_01_1",
            "file name event time (発生日時) '20111232224447339' is not a calendar date and time",
        ),
        (
            "9999013_20111120_ADT-22_999999999999999_20111220224447339_01_3",
            "file name '9999013_20111120_ADT-22_999999999999999_20111220224447339_01_3' does not follow the SS-MIX2 "
            "pattern <患者ID>_<診療日>_<データ種別>_<オーダNo>_<発生日時>_<診療科>_<コンディションフラグ>",
        ),
    ],
)
def test_file_names_that_do_not_fit_their_place_are_refused(path, reason):
    with pytest.raises(StorageNameError) as refused:
        stored_file(path)
    assert str(refused.value) == reason


def test_a_generated_region_maps_without_problems_and_one_stay_is_one_encounter(tmp_path):
    call_command("generate_region", people=60, out=tmp_path / "region", workers=1, seed=3)
    sources = json.loads((tmp_path / "region" / "sources.json").read_text(encoding="utf-8"))["sources"]
    kinds: Counter[str] = Counter()
    encounters: set[str] = set()
    stays = visits = 0
    for source in sources:
        if source["kind"] != "ssmix2":
            continue
        info = SourceInfo(
            source["code"],
            "ssmix2",
            source["organization"]["name"],
            source["organization"]["identifier"]["system"],
            source["organization"]["identifier"]["value"],
            source["patient_identifier_system"],
        )
        root = tmp_path / "region" / source["path"]
        found = tree_records(root, info)
        assert problems(found) == []
        for record in found:
            for resource in _resources_of(record):
                kinds[resource["resourceType"]] += 1
                assert validation_issues(resource) == []
                if resource["resourceType"] == "Encounter":
                    encounters.add(f"{info.code}|{resource['identifier'][0]['value']}")
        stays += sum(1 for _ in root.rglob("ADT-22/*_1"))
        visits += sum(1 for _ in root.rglob("ADT-12/*_1"))
    assert kinds["MedicationRequest"] > 0
    assert kinds["Observation"] > 0
    assert kinds["Condition"] > 0
    assert len(encounters) == stays + visits
