"""The shared JP helpers: names, card identifiers, conditional entries and dates."""

from __future__ import annotations

import uuid
from datetime import date
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import SourceInfo
from connectors.jp import (
    FULL_URL_NAMESPACE,
    NAME_REPRESENTATION,
    DateError,
    conditional_reference,
    create_entry,
    full_url,
    human_names,
    identifier_query,
    insurance_member_id,
    iso_date,
    parse_era_date,
    patient_reference,
    put_entry,
    record_entry,
)
from core.formats import check_digit
from federation.fhir.r4b import validation_issues

SOURCE = SourceInfo("clinic-01", "ssmix2", "クリニック", "urn:x", "1", "urn:oid:1.2.392.100495.20.3.51.12214110037")


def test_names_are_one_jp_core_human_name_per_representation():
    kanji, kana = human_names("山田　太郎", "ﾔﾏﾀﾞ ﾀﾛｳ")
    assert kanji == {
        "extension": [{"url": NAME_REPRESENTATION, "valueCode": "IDE"}],
        "use": "usual",
        "text": "山田 太郎",
        "family": "山田",
        "given": ["太郎"],
    }
    assert (kana["text"], kana["family"], kana["given"]) == ("ヤマダ タロウ", "ヤマダ", ["タロウ"])
    assert kana["extension"][0]["valueCode"] == "SYL"


def test_registered_kanji_are_not_folded_and_a_name_without_space_is_text_only():
    (name,) = human_names("髙﨑神", "")
    assert name["text"] == "髙﨑神"
    assert "family" not in name
    assert human_names("", "") == []


def test_full_urls_are_deterministic_and_distinct_per_source_key_and_type():
    url = full_url("clinic-01", "123", "Patient")
    assert url == full_url("clinic-01", "123", "Patient")
    assert url.startswith("urn:uuid:")
    assert len({url, full_url("clinic-02", "123", "Patient"), full_url("clinic-01", "124", "Patient"),
                full_url("clinic-01", "123", "Encounter")}) == 4  # fmt: skip


@pytest.mark.parametrize(
    ("source", "key", "resource_type"),
    [("clinic-01", "123", "Patient"), ("薬局", "urn:oid:1.2|山田 花子", "MedicationDispense"), ("", "", "")],
)
def test_full_urls_are_uuid5_of_source_key_and_type(source, key, resource_type):
    expected = uuid.uuid5(FULL_URL_NAMESPACE, f"{source}/{key}/{resource_type}")
    assert full_url(source, key, resource_type) == f"urn:uuid:{expected}"


def test_conditional_entries_follow_the_connector_contract():
    patient = {"resourceType": "Patient", "identifier": [{"system": SOURCE.patient_identifier_system, "value": "9"}]}
    put = put_entry("urn:uuid:1", patient, SOURCE.patient_identifier_system, "9")
    assert put["request"] == {"method": "PUT", "url": f"Patient?identifier={SOURCE.patient_identifier_system}|9"}
    post = create_entry("urn:uuid:1", patient, SOURCE.patient_identifier_system, "9")
    assert post["request"] == {
        "method": "POST",
        "url": "Patient",
        "ifNoneExist": f"identifier={SOURCE.patient_identifier_system}|9",
    }
    assert patient_reference(SOURCE, "9", "urn:uuid:1") == {"reference": "urn:uuid:1"}
    assert patient_reference(SOURCE, "9") == {"reference": f"Patient?identifier={SOURCE.patient_identifier_system}|9"}


def test_a_record_entry_carries_its_record_identifier_first():
    condition = {"resourceType": "Condition", "identifier": [{"system": "urn:y", "value": "1"}], "subject": {}}
    entry = record_entry(SOURCE, "000123/PRB-1", condition | {"subject": patient_reference(SOURCE, "9")})
    record = "https://tsunagi.example.jp/fhir/IdSystem/source-record/clinic-01"
    assert entry["resource"]["identifier"] == [
        {"system": record, "value": "000123/PRB-1"},
        {"system": "urn:y", "value": "1"},
    ]
    assert entry["request"]["url"] == f"Condition?identifier={record}|000123/PRB-1"
    assert entry["fullUrl"] == full_url("clinic-01", "000123/PRB-1", "Condition")
    assert validation_issues(entry["resource"]) == []


def test_identifier_values_are_escaped_in_conditional_urls():
    assert conditional_reference("Basic", "urn:x", "a|b,c$d\\e") == "Basic?identifier=urn:x|a\\|b\\,c\\$d\\\\e"
    assert conditional_reference("Basic", "urn:x", "つ26 +") == "Basic?identifier=urn:x|%E3%81%A426%20%2B"


def escaped_and_encoded(system: str, value: str) -> str:
    """What identifier_query writes, by the rule alone: backslash escapes in the value, then percent-encoding."""
    escaped = "".join("\\" + char if char in "\\|,$" else char for char in value)
    return "identifier=" + quote(f"{system}|{escaped}", safe=":/|\\,$-._~")


# Text of the characters that decide between writing it as it is and escaping or encoding it (lone surrogates
# fail either way).
AWKWARD_TEXT = st.text(st.sampled_from("aZ09_.~:/-|\\,$ %&+#?=\n\x00\x7féつ\U0001f600"), max_size=8)


@settings(max_examples=500)
@given(system=AWKWARD_TEXT, value=AWKWARD_TEXT)
def test_identifier_queries_are_escaped_and_encoded_as_the_rule_says(system, value):
    assert identifier_query(system, value) == escaped_and_encoded(system, value)


@pytest.mark.parametrize(
    ("insurer", "symbol", "number", "branch", "expected"),
    [
        ("12345", "あいう", "\uff11\uff18\uff17", "05", "00012345:あいう:\uff11\uff18\uff17:05"),
        ("12345", "あいう", "187", "05", "00012345:あいう:187:05"),
        ("12345", "", "187", "", "00012345::187:"),
        ("229989", "つ26", "0000075", "00", "00229989:つ\uff12\uff16:0000075:00"),
        ("39229992", "", "16720629", "", "39229992::16720629:"),
    ],
)
def test_insurance_member_id_follows_the_jp_core_rule(insurer, symbol, number, branch, expected):
    assert insurance_member_id(insurer, symbol, number, branch) == expected


def test_check_digit_is_modulus_10_with_weights_2_1():
    assert check_digit("22999") == "7"
    assert check_digit("3922999") == "2"


def test_western_dates_are_validated():
    assert iso_date("20240229") == "2024-02-29"
    with pytest.raises(DateError, match="is not a calendar date"):
        iso_date("20240230")
    with pytest.raises(DateError, match="is not a date in the YYYYMMDD form"):
        iso_date("2024-02-29")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和7年3月31日", date(2025, 3, 31)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R070331", date(2025, 3, 31)),
        ("R010501", date(2019, 5, 1)),
        ("H31.4.30", date(2019, 4, 30)),
        ("S64/01/07", date(1989, 1, 7)),
        ("平成１年１月８日", date(1989, 1, 8)),
        ("5070331", date(2025, 3, 31)),
        ("3160101", date(1941, 1, 1)),
        ("t01-07-30", date(1912, 7, 30)),
    ],
)
def test_era_dates(text, expected):
    assert parse_era_date(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("H310501", "is not a day of the 平成 era"),
        ("R010430", "is not a day of the 令和 era"),
        ("R070230", "is not a calendar date"),
        ("R000101", "is not a date: 令和 has no year 0"),
        ("X070331", "is not a Japanese-era date"),
        ("20250331", "is not a Japanese-era date"),
    ],
)
def test_bad_era_dates_say_why(text, reason):
    with pytest.raises(DateError) as raised:
        parse_era_date(text)
    assert str(raised.value) == reason
