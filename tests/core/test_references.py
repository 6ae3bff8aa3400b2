"""Locating references and replacing them by their paths gives what rewriting them in one walk gives."""

from __future__ import annotations

import copy
from typing import Any

from core import fhir_json
from core.references import references_located, references_replaced, references_rewritten
from tests.conftest import FIXTURES


def resource() -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense",
        "contained": [{"resourceType": "Practitioner", "id": "p", "name": [{"family": "佐藤"}]}],
        "subject": {"reference": "Patient/1", "display": "山田"},
        "code": {"coding": [{"system": "urn:oid:1.2.392.100495.20.2.74", "code": "620000420"}]},
        "performer": [{"actor": {"reference": "#p"}}, {"actor": {"reference": "Practitioner/2"}}],
        "extension": [{"url": "urn:x", "valueReference": {"reference": "Organization/3"}}],
        "note": [[{"reference": "Encounter/4"}], "text"],  # not FHIR, but JSON: arrays of arrays are walked too
        "reference": {"reference": "Patient/1"},  # a key named reference holding an object is walked into
        "identifier": [{"system": "urn:x", "value": "reference"}],
    }


def test_references_are_located_in_the_order_rewriting_meets_them():
    met: list[str] = []

    def meet(reference: str) -> str:
        met.append(reference)
        return reference

    references_rewritten(resource(), meet)

    located = references_located(resource())

    assert [reference for _, reference in located] == met
    assert located[0] == (("subject", "reference"), "Patient/1")
    assert located[4] == (("note", 0, 0, "reference"), "Encounter/4")


def test_replacing_by_path_is_rewriting_copying_only_the_way_to_each_reference():
    def rewrite(reference: str) -> str:
        return reference if reference.startswith("#") else reference.lower()

    sent = resource()
    original = copy.deepcopy(sent)
    replacements = [(path, rewrite(reference)) for path, reference in references_located(sent)]

    replaced = references_replaced(sent, [(path, new) for path, new in replacements if not new.startswith("#")])

    assert replaced == references_rewritten(sent, rewrite)
    assert sent == original
    assert replaced["code"] is sent["code"]
    assert replaced["performer"] is not sent["performer"]
    assert replaced["performer"][0] is sent["performer"][0]  # its reference is unchanged
    assert references_replaced(sent, []) is sent


def test_references_at_the_same_place_twice_are_both_replaced():
    shared = {"reference": "Patient/1"}
    sent = {"resourceType": "List", "entry": [{"item": shared}, {"item": shared}]}

    replaced = references_replaced(sent, [(path, "Patient/9") for path, _ in references_located(sent)])

    assert replaced["entry"] == [{"item": {"reference": "Patient/9"}}, {"item": {"reference": "Patient/9"}}]
    assert shared == {"reference": "Patient/1"}


def every_reference(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], str]]:
    """Every Reference.reference with its path, visiting every member: what the walks must find."""
    if isinstance(node, dict):
        pairs: Any = node.items()
    elif isinstance(node, list):
        pairs = enumerate(node)
    else:
        return []
    found = []
    for key, value in pairs:
        if key == "reference" and isinstance(node, dict) and isinstance(value, str):
            found.append(((*path, key), value))
        else:
            found.extend(every_reference(value, (*path, key)))
    return found


def test_an_object_that_got_an_object_or_array_after_it_was_made_is_walked_into():
    grown: dict[str, Any] = {"reference": "Patient/1"}  # holds only text: the collector does not track it yet
    grown["extension"] = [{"url": "urn:x", "valueReference": {"reference": "Patient/2"}}]
    later: dict[str, Any] = {"display": "x"}
    later.update({"item": {"reference": "Patient/3"}})
    sent = {"resourceType": "List", "subject": grown, "entry": [later]}

    assert references_located(sent) == every_reference(sent)
    assert references_rewritten(sent, str.lower) == {
        "resourceType": "List",
        "subject": {
            "reference": "patient/1",
            "extension": [{"url": "urn:x", "valueReference": {"reference": "patient/2"}}],
        },
        "entry": [{"display": "x", "item": {"reference": "patient/3"}}],
    }


def test_a_leaf_object_is_shared_unless_its_reference_changes():
    sent = {"resourceType": "Observation", "subject": {"reference": "Patient/1"}, "code": {"text": "x"}}

    rewritten = references_rewritten(sent, lambda reference: reference.replace("1", "2"))

    assert rewritten["subject"] == {"reference": "Patient/2"}
    assert rewritten["code"] is sent["code"]
    assert references_rewritten(sent, str) is sent  # str gives back the same object: nothing is copied


def test_the_walks_find_every_reference_of_every_fixture():
    checked = 0
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            value = {"fixture": fhir_json.loads(path.read_bytes())}
        except ValueError:
            continue  # deliberately broken input
        expected = every_reference(value)
        met: list[str] = []

        def meet(reference: str, met: list[str] = met) -> str:
            met.append(reference)
            return reference

        references_rewritten(value, meet)

        assert references_located(value) == expected, path
        assert met == [reference for _, reference in expected], path
        checked += bool(expected)
    assert checked > 100
