"""A token parameter's `:text` rows: one for each distinct text its values carry."""

from __future__ import annotations

from typing import Any

import pytest

from federation.models import StringIndex
from federation.search.indexing import index_rows
from federation.search.normalize import normalize_string
from federation.search.registry import index_key, parameters_for

pytestmark = pytest.mark.django_db


def texts_of(resource: dict[str, Any], code: str) -> list[str]:
    key = index_key(parameters_for(str(resource["resourceType"]))[code], ":text")
    return [row[2] for row in index_rows(str(resource["resourceType"]), resource)[StringIndex] if row[0] == key]


def folded(*texts: str) -> list[str]:
    return [normalize_string(text) for text in texts]


def coding(code: str, display: str) -> dict[str, str]:
    return {"system": "http://medis.or.jp/CodeSystem/master-HOT9", "code": code, "display": display}


def test_a_concept_whose_text_is_its_display_has_one_text_row():
    dispense = {
        "resourceType": "MedicationDispense",
        "status": "completed",
        "medicationCodeableConcept": {
            "text": "セレコックス錠100mg",
            "coding": [coding("117871201", "セレコックス錠100mg"), coding("1149037F1ZZZ", "セレコキシブ錠100mg")],
        },
    }

    assert texts_of(dispense, "code") == folded("セレコックス錠100mg", "セレコキシブ錠100mg")


def test_values_sharing_a_text_have_one_row_for_it():
    request = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "ロキソニン"},
        "category": [{"text": "内服"}, {"coding": [coding("1", "内服")]}, {"text": "院外"}],
    }

    assert texts_of(request, "category") == folded("内服", "院外")
