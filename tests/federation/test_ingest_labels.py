"""Security labels for sensitive categories, set at ingest."""

from __future__ import annotations

from typing import Any

from federation.ingest.labels import ACT_CODE, CONFIDENTIALITY, ICD10, JLAC10, resource_label


def condition(system: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "code": {"coding": [{"system": system, "code": code}]}}


def labels(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(label["system"], label["code"]) for label in resource.get("meta", {}).get("security", [])}


def test_psychiatric_diagnoses_are_labelled_and_restricted():
    assert labels(resource_label(condition(ICD10, "F01.9"))) == {(ACT_CODE, "PSY"), (CONFIDENTIALITY, "R")}


def test_codes_match_with_or_without_the_dot():
    assert labels(resource_label(condition(ICD10, "B201"))) == labels(resource_label(condition(ICD10, "B20.1")))


def test_hiv_lab_tests_are_labelled():
    observation = {"resourceType": "Observation", "code": {"coding": [{"system": JLAC10, "code": "5F711000002399811"}]}}
    assert (ACT_CODE, "HIV") in labels(resource_label(observation))


def test_ordinary_resources_are_left_alone():
    resource = condition(ICD10, "I10")
    assert resource_label(resource) is resource


def test_labels_already_there_are_kept_once():
    resource = condition(ICD10, "F32.9")
    resource["meta"] = {"security": [{"system": CONFIDENTIALITY, "code": "R"}, {"system": "urn:x", "code": "V"}]}

    labelled = labels(resource_label(resource))

    assert labelled == {(CONFIDENTIALITY, "R"), ("urn:x", "V"), (ACT_CODE, "PSY")}


def test_same_code_in_another_system_is_not_sensitive():
    assert labels(resource_label(condition("urn:local", "F20"))) == set()
