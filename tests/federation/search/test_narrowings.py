"""A reference parameter that keeps another's references to one type is searched on that parameter's rows."""

from __future__ import annotations

import pytest

from federation.models import ReferenceIndex, TokenIndex
from federation.search.indexing import index_rows
from federation.search.registry import Narrowing, index_key, parameters_for
from federation.search.values import named_target, reference_key

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("resource_type", "code", "narrows"),
    [
        ("Observation", "patient", Narrowing("subject", "Patient")),
        ("Encounter", "practitioner", Narrowing("participant", "Practitioner")),
        ("Provenance", "patient", Narrowing("target", "Patient")),
        ("Task", "patient", Narrowing("subject", "Patient")),  # Task.for, whichever parameter is named so
        ("Consent", "patient", None),  # Consent.patient: a reference of its own
        ("Observation", "subject", None),
    ],
)
def test_narrowings_are_found_from_the_expressions(resource_type, code, narrows):
    assert parameters_for(resource_type)[code].narrows == narrows


def test_a_narrowing_stores_its_identifier_rows_but_no_references():
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "HbA1c"},
        "subject": {
            "reference": "Patient/p1",
            "identifier": {"system": "urn:oid:1.2.392.100495.20.3.51.1", "value": "7"},
        },
    }
    parameters = parameters_for("Observation")
    found = index_rows("Observation", observation)

    references = {row[0] for row in found[ReferenceIndex]}
    assert index_key(parameters["subject"]) in references
    assert index_key(parameters["patient"]) not in references
    assert index_key(parameters["patient"], ":identifier") in {row[0] for row in found[TokenIndex]}


@pytest.mark.parametrize(
    ("reference", "named"),
    [
        ("Patient/p1", ("Patient", "p1")),
        ("https://other.example.jp/fhir/Patient/p9", ("Patient", "p9")),
        ("https://other.example.jp/fhir/Patient/p9/_history/2", ("Patient", "p9")),
        ("urn:uuid:9d7a6f3e-0c1b-4d8e-a0f1-2b3c4d5e6f70", None),
        ("https://other.example.jp/fhir/patients/p9", None),
        ("Patient/", None),
    ],
)
def test_a_reference_names_a_type_by_its_path(reference, named):
    assert named_target(reference) == named


def test_an_absolute_url_row_keeps_the_type_its_path_names():
    assert reference_key("https://other.example.jp/fhir/Patient/p9") == (
        "Patient",
        None,
        "https://other.example.jp/fhir/Patient/p9",
    )
    assert reference_key("Patient/p1") == ("Patient", "p1", None)
