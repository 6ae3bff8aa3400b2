"""The FHIRPath compiler behind search-index extraction: each construct, how much of the spec's
search parameters it compiles, agreement with fhirpathpy over the FHIR examples, and its speed.

No database: these tests only evaluate expressions over JSON.
"""

from __future__ import annotations

import collections
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from federation.fhir.r4b import choice_types, element_type, has_model, type_ancestors
from federation.search.fhirpath import TypedValue, compile_expression, compile_relative, is_native
from tests.federation.spec_examples import full_package

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "federation" / "fhir" / "spec"
VENDORED = ROOT / "fixtures" / "fhir_r4_examples" / "valid"

SYL = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
JP = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/"


def found(expression: str, resource: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(item.type, item.value) for item in compile_expression(expression, resource["resourceType"])(resource)]


def observation(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}, **fields}


QUANTITY = {"value": Decimal("72.5"), "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}


# --- The R4B models' element types --------------------------------------------------------------


def test_element_types_come_from_the_models_with_fhir_names():
    assert element_type("Observation", "code") == ("CodeableConcept", False)
    assert element_type("Observation", "component") == ("ObservationComponent", True)
    assert element_type("ObservationComponent", "code") == ("CodeableConcept", False)
    assert element_type("Encounter", "class") == ("Coding", False)  # Python's `class_`
    assert element_type("HumanName", "given") == ("string", True)
    assert element_type("Patient", "birthDate") == ("date", False)
    assert element_type("Observation", "issued") == ("instant", False)
    assert element_type("Bundle", "entry") == ("BundleEntry", True)
    assert element_type("BundleEntry", "resource") == ("Resource", False)
    assert element_type("Observation", "value") is None  # a choice: see choice_types
    assert element_type("Observation", "nothing") is None
    assert element_type("string", "value") is None


def test_choice_types_and_ancestors():
    assert choice_types("Observation", "effective") == {
        "effectiveDateTime": "dateTime",
        "effectiveInstant": "instant",
        "effectivePeriod": "Period",
        "effectiveTiming": "Timing",
    }
    assert choice_types("Observation", "code") == {}
    assert type_ancestors("Age") == ("Age", "Quantity", "Element")
    assert type_ancestors("code") == ("code", "string")
    assert type_ancestors("Patient") == ("Patient", "DomainResource", "Resource")
    assert type_ancestors("NoSuchType") == ()


# --- Constructs ---------------------------------------------------------------------------------


def test_paths_flatten_lists_skip_missing_keys_and_primitive_extensions():
    patient = {
        "resourceType": "Patient",
        "active": True,
        "_birthDate": {"extension": [{"url": "http://example.org/reason", "valueString": "unknown"}]},
        "name": [
            {"family": "山田", "given": ["花子", "B"]},
            {"given": ["C", None], "_given": [None, {"extension": [{"url": "http://example.org/x"}]}]},
            {"text": "no given"},
        ],
    }
    assert found("Patient.name.given", patient) == [("string", "花子"), ("string", "B"), ("string", "C")]
    assert found("Patient.name.family", patient) == [("string", "山田")]
    assert found("Patient.birthDate", patient) == []
    assert found("Patient.active", patient) == [("boolean", True)]
    assert [kind for kind, _ in found("Patient.name", patient)] == ["HumanName"] * 3
    assert found("Patient.address.city", patient) == []


def test_choice_casts_in_every_spelling():
    resource = observation(valueQuantity=QUANTITY, effectiveDateTime="2024-04-01T10:00:00+09:00")
    for expression in (
        "Observation.value as Quantity",
        "(Observation.value as Quantity)",
        "Observation.value.as(Quantity)",
        "Observation.value.ofType(Quantity)",
        "(Observation.value as FHIR.Quantity)",
    ):
        assert found(expression, resource) == [("Quantity", QUANTITY)], expression
        assert is_native(expression, "Observation")
    assert found("Observation.value as CodeableConcept", resource) == []
    assert found("(Observation.effective as dateTime)", resource) == [("dateTime", "2024-04-01T10:00:00+09:00")]
    assert found("(Observation.effective as Period)", resource) == []
    assert found("(Observation.value as Quantity).unit", resource) == [("string", "kg")]

    age = {"value": 40, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetAge": age}
    assert found("Condition.onset.as(Age) | Condition.onset.as(Range)", condition) == [("Age", age)]
    assert found("Condition.onset.as(string)", condition) == []


def test_a_bare_choice_yields_each_present_variant_with_its_type():
    period = {"start": "2024-01-01", "end": "2024-01-31"}
    resource = observation(
        effectivePeriod=period,
        valueString="positive",
        component=[
            {"code": {"text": "a"}, "valueQuantity": QUANTITY},
            {"code": {"text": "b"}, "valueCodeableConcept": {"text": "high"}},
            {"code": {"text": "c"}},
        ],
    )
    assert found("Observation.effective", resource) == [("Period", period)]
    assert found("Observation.value", resource) == [("string", "positive")]
    assert sorted(found("Observation.component.value", resource), key=str) == [
        ("CodeableConcept", {"text": "high"}),
        ("Quantity", QUANTITY),
    ]


def test_casts_match_subtypes_and_report_the_actual_type():
    extensions = [
        {"url": "http://example.org/age", "valueAge": {"value": 3, "code": "a"}},
        {"url": "http://example.org/code", "valueCode": "SYL"},
    ]
    patient = {"resourceType": "Patient", "extension": extensions}
    assert found("Patient.extension.value.as(Quantity)", patient) == [("Age", {"value": 3, "code": "a"})]
    assert found("Patient.extension.value.as(string)", patient) == [("code", "SYL")]  # code derives from string
    assert found("Patient.extension.value.as(code)", patient) == [("code", "SYL")]


def test_system_type_names_match_the_fhir_primitives_they_stand_for():
    resource = observation(valueDateTime="2024-04-01")
    parts = compile_relative("value.as(DateTime) | value.as(Period)")
    assert [(item.type, item.value) for item in parts(resource, "Observation", resource)] == [
        ("dateTime", "2024-04-01")
    ]


def test_where_resolve_is_decided_from_the_reference():
    actors = [
        {"reference": "Patient/1"},
        {"reference": "https://fhir.example.jp/r4/Patient/2"},
        {"reference": "Patient/3/_history/4"},
        {"reference": "Practitioner/5"},
        {"reference": "#p"},
        {"reference": "#g"},
        {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"},
        {"reference": "Patient?identifier=123"},
        {"identifier": {"system": "urn:oid:1.2.3", "value": "9"}},
        {"display": "someone"},
    ]
    appointment = {
        "resourceType": "Appointment",
        "status": "booked",
        "contained": [{"resourceType": "Patient", "id": "p"}, {"resourceType": "Group", "id": "g"}],
        "participant": [{"actor": actor, "status": "accepted"} for actor in actors],
    }
    expression = "Appointment.participant.actor.where(resolve() is Patient)"
    assert found(expression, appointment) == [("Reference", actors[index]) for index in (0, 1, 2, 4)]
    assert found("Appointment.participant.actor.where(resolve() is Group)", appointment) == [("Reference", actors[5])]


def test_where_on_literals_including_dotted_paths_and_and():
    patient = {
        "resourceType": "Patient",
        "telecom": [
            {"system": "phone", "value": "03-1234-5678"},
            {"system": "email", "value": "hanako@example.jp"},
            {"value": "no system"},
        ],
        "name": [
            {"use": "usual", "text": "ヤマダ ハナコ", "extension": [{"url": SYL, "valueCode": "SYL"}]},
            {"use": "official", "text": "山田 花子", "extension": [{"url": SYL, "valueCode": "IDE"}]},
            {"use": "official", "text": "ヤマダ", "extension": [{"url": SYL, "valueCode": "SYL"}]},
            {"use": "usual", "text": "山田"},
        ],
    }
    assert found("Patient.telecom.where(system='phone')", patient) == [("ContactPoint", patient["telecom"][0])]
    kana = f"Patient.name.where(extension('{SYL}').value.as(code)='SYL' and use='usual').text"  # JP Core's kana name
    assert found(kana, patient) == [("string", "ヤマダ ハナコ")]
    assert is_native(kana, "Patient")

    library = {
        "resourceType": "Library",
        "status": "active",
        "type": {"text": "logic"},
        "relatedArtifact": [
            {"type": "composed-of", "resource": "http://example.org/Library/a"},
            {"type": "depends-on", "resource": "http://example.org/Library/b"},
        ],
    }
    expression = "Library.relatedArtifact.where(type='composed-of').resource"
    assert found(expression, library) == [("canonical", "http://example.org/Library/a")]
    assert found("Library.relatedArtifact.where(type.text='composed-of')", library) == []


def test_a_where_literal_must_equal_exactly_one_value():
    patient = {"resourceType": "Patient", "name": [{"given": ["A", "B"]}, {"given": ["A"]}, {}]}
    assert found("Patient.name.where(given='A')", patient) == [("HumanName", {"given": ["A"]})]


def test_string_literal_escapes():
    patient = {"resourceType": "Patient", "telecom": [{"value": "it's"}, {"value": "tab\there"}]}
    assert found(r"Patient.telecom.where(value='it\'s')", patient) == [("ContactPoint", {"value": "it's"})]
    assert found(r"Patient.telecom.where(value='tab\there')", patient) == [("ContactPoint", {"value": "tab\there"})]


def test_jp_core_extension_expressions():
    coverage = {
        "resourceType": "Coverage",
        "status": "active",
        "extension": [
            {"url": f"{JP}JP_Coverage_InsuredPersonNumber", "valueString": "12345"},
            {"url": f"{JP}JP_Coverage_InsuredPersonSymbol", "valueString": "記号"},
        ],
    }
    expression = f"Coverage.extension.where(url='{JP}JP_Coverage_InsuredPersonNumber').value.as(string)"
    assert found(expression, coverage) == [("string", "12345")]

    period = {"start": "2024-04-01", "end": "2024-04-07"}
    request = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "dosageInstruction": [
            {"text": "1日3回", "extension": [{"url": f"{JP}JP_MedicationDosage_PeriodOfUse", "valuePeriod": period}]},
            {"text": "頓用"},
        ],
    }
    expression = (
        f"MedicationRequest.dosageInstruction.extension('{JP}JP_MedicationDosage_PeriodOfUse').value.as(Period).start"
    )
    assert found(expression, request) == [("dateTime", "2024-04-01")]

    prefecture = f"{JP}JP_Organization_PrefectureNo"
    insurer = {"url": f"{JP}JP_Organization_InsuranceOrganizationNo", "valueCode": "1234567"}
    expression = f"Organization.extension.where(url='{prefecture}').value.as(code)"
    organization = {"resourceType": "Organization", "extension": [{"url": prefecture, "valueCode": "13"}, insurer]}
    assert found(expression, organization) == [("code", "13")]
    organization = {"resourceType": "Organization", "extension": [{"url": prefecture, "valueCoding": {"code": "13"}}]}
    assert found(expression, organization) == []  # a Coding is not a code


def test_indexer_takes_from_the_whole_collection():
    composition = {"resourceType": "Composition", "id": "c"}
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": composition}, {"resource": {"resourceType": "Patient", "id": "p"}}],
    }
    assert found("Bundle.entry[0].resource", bundle) == [("Composition", composition)]
    assert found("Bundle.entry[1].resource", bundle) == [("Patient", {"resourceType": "Patient", "id": "p"})]
    assert found("Bundle.entry[2].resource", bundle) == []


def test_unions_keep_the_parts_for_the_type_and_drop_duplicates():
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"given": ["A", "B"]}, {"given": ["A"]}]}
    expression = "Patient.name.given | Practitioner.name.given | RelatedPerson.name.given"
    assert found(expression, patient) == [("string", "A"), ("string", "B")]
    assert found("Patient.name.given", patient) == [("string", "A"), ("string", "B"), ("string", "A")]
    assert found("Practitioner.name", patient) == []
    assert is_native("Practitioner.name", "Patient")
    assert found("Resource.id", patient) == [("id", "p1")]

    plan = {"resourceType": "InsurancePlan", "name": "Gold", "alias": ["G", "Gold"]}
    assert found("name | alias", plan) == [("string", "Gold"), ("string", "G")]


def test_duplicates_keep_decimal_precision_apart():
    resource = observation(
        component=[
            {"code": {"text": "a"}, "valueQuantity": {"value": Decimal("1.0")}},
            {"code": {"text": "b"}, "valueQuantity": {"value": Decimal("1.00")}},
            {"code": {"text": "c"}, "valueQuantity": {"value": Decimal("1.0")}},
        ]
    )
    expression = "(Observation.value as Quantity) | (Observation.component.value as Quantity)"
    assert found(expression, resource) == [
        ("Quantity", {"value": Decimal("1.0")}),
        ("Quantity", {"value": Decimal("1.00")}),
    ]


def test_composite_roots_and_their_components():
    component = {"code": {"text": "systolic"}, "valueQuantity": QUANTITY}
    resource = observation(valueString="n/a", component=[component])
    roots = compile_expression("Observation | Observation.component", "Observation")(resource)
    assert [(item.type, item.value) for item in roots] == [
        ("Observation", resource),
        ("ObservationComponent", component),
    ]
    code, value = compile_relative("code"), compile_relative("value.as(Quantity)")
    assert [item.value for item in code(component, "ObservationComponent", resource)] == [{"text": "systolic"}]
    assert value(component, "ObservationComponent", resource) == [TypedValue("Quantity", QUANTITY)]
    assert value(resource, "Observation", resource) == []


def test_compiled_once_per_expression_and_type():
    assert compile_expression("Patient.name", "Patient") is compile_expression("Patient.name", "Patient")
    assert compile_relative("code") is compile_relative("code")


# --- The fhirpathpy fallback --------------------------------------------------------------------


def test_what_is_not_compiled_runs_in_fhirpathpy():
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert not is_native(expression, "Patient")
    assert found(expression, {"resourceType": "Patient", "deceasedDateTime": "2024-01-01"}) == [("boolean", True)]
    assert found(expression, {"resourceType": "Patient", "deceasedBoolean": False}) == [("boolean", False)]
    assert not is_native("Patient.nothing", "Patient")
    assert found("Patient.nothing", {"resourceType": "Patient"}) == []


def test_the_fallback_types_its_results_and_reads_resource_roots():
    tag = {"system": "http://example.org/tags", "code": "t"}
    patient = {"resourceType": "Patient", "meta": {"tag": [tag, {"code": "u"}]}}
    assert not is_native("Resource.meta.tag.first()", "Patient")
    assert found("Resource.meta.tag.first()", patient) == [("Coding", tag)]  # fhirpathpy alone finds nothing

    component = {"code": {"text": "a"}}
    assert found("Observation.component.first()", observation(component=[component])) == [
        ("ObservationComponent", component)
    ]

    expression = "Observation.subject.where(resolve() is Patient).exists()"
    assert not is_native(expression, "Observation")
    assert found(expression, observation(subject={"reference": "Patient/1"})) == [("boolean", True)]
    assert found(expression, observation(subject={"reference": "Group/1"})) == [("boolean", False)]


def test_the_fallback_reads_percent_resource_only_when_given():
    variant = {"start": 10, "end": 20}
    sequence = {
        "resourceType": "MolecularSequence",
        "referenceSeq": {"chromosome": {"text": "1"}},
        "variant": [variant],
    }
    chromosome = compile_relative("%resource.referenceSeq.chromosome")
    assert [item.value for item in chromosome(variant, "MolecularSequenceVariant", sequence)] == [{"text": "1"}]
    with pytest.raises(ValueError, match="resource"):
        chromosome(variant, "MolecularSequenceVariant")


# --- Coverage of the specification's search parameters ------------------------------------------


def search_parameters() -> list[dict[str, Any]]:
    """R4's search parameters with an expression, and JP Core's where present."""
    parameters = [entry["resource"] for entry in json.loads((SPEC / "search-parameters.json").read_text())["entry"]]
    jp_core = SPEC / "jp-core-search-parameters.json"
    if jp_core.exists():
        parameters += [entry["resource"] for entry in json.loads(jp_core.read_text())["entry"]]
    return [parameter for parameter in parameters if parameter.get("expression")]


def test_almost_all_parameters_compile_natively(capsys):
    # Types R4B removed (MedicinalProduct...) are not served, and without a model nothing is typed.
    pairs = [
        (parameter.get("id") or parameter["code"], parameter["expression"], base)
        for parameter in search_parameters()
        for base in parameter["base"]
        if has_model(base)
    ]
    interpreted = [(name, base, expression) for name, expression, base in pairs if not is_native(expression, base)]
    share = 1 - len(interpreted) / len(pairs)
    with capsys.disabled():
        print(f"\nNative: {len(pairs) - len(interpreted)}/{len(pairs)} (parameter, base) pairs = {share:.2%}")
        for name, base, expression in interpreted:
            print(f"  through fhirpathpy: {name} on {base}: {expression}")
    assert share >= 0.98


# --- Agreement with fhirpathpy ------------------------------------------------------------------

# fhirpathpy is the reference, with three adjustments where it is wrong or lacks a feature:
# - it reads `Resource.x` / `DomainResource.x` as nothing on a Patient: the reference names the type;
# - it raises on `as` over more than one node (any `useContext.value as T` with two contexts): the
#   reference uses ofType(), which is what search means and the compiler does;
# - it has no resolve(): the reference's resolve() below reads the type off the reference, as a
#   server that indexes without fetching other resources must.
_RESOLVING: dict[str, Any] = {}


def _reference_resolve(references: list[Any]) -> list[Any]:
    resolved = []
    for reference in references:
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str):
            continue
        if target.startswith("#"):
            contained = _RESOLVING["resource"].get("contained", [])
            resolved += [ResourceNode.create_node(item) for item in contained if item.get("id") == target[1:]]
            continue
        segments = target.split("/")
        if len(segments) >= 4 and segments[-2] == "_history":
            segments = segments[:-2]
        if len(segments) >= 2 and segments[-2][:1].isupper():
            resolved.append(ResourceNode.create_node({"resourceType": segments[-2], "id": segments[-1]}))
    return resolved


def _reference_text(expression: str, resource_type: str) -> str:
    expression = re.sub(r"\b(Resource|DomainResource)\.", f"{resource_type}.", expression)
    expression = re.sub(r"\(([\w.]+) as (\w+)\)", r"\1.ofType(\2)", expression)
    return expression.replace(".as(", ".ofType(")


_REFERENCES: dict[tuple[str, str], Any] = {}


def _reference_values(expression: str, resource: dict[str, Any]) -> list[Any]:
    key = (expression, resource["resourceType"])
    if key not in _REFERENCES:
        options = {"userInvocationTable": {"resolve": {"fn": _reference_resolve}}}
        _REFERENCES[key] = fhirpathpy.compile(_reference_text(*key), models["r4"], options)
    _RESOLVING["resource"] = resource
    return list(_REFERENCES[key](resource))


def _multiset(values: Any) -> collections.Counter[str]:
    return collections.Counter(json.dumps(value, sort_keys=True, default=str) for value in values)


def _load(paths: list[Path]) -> list[dict[str, Any]]:
    resources = [json.loads(path.read_text(), parse_float=Decimal) for path in paths]
    return [resource for resource in resources if has_model(resource.get("resourceType", ""))]


def _parameters_by_type() -> dict[str, list[str]]:
    """Each base type's expressions; a type's own list also gets its ancestors' (Resource.id...)."""
    expressions: dict[str, list[str]] = collections.defaultdict(list)
    for parameter in search_parameters():
        for base in parameter["base"]:
            expressions[base].append(parameter["expression"])
    return expressions


def _expressions_for(resource_type: str, by_type: dict[str, list[str]]) -> list[str]:
    return [expression for ancestor in type_ancestors(resource_type) for expression in by_type.get(ancestor, [])]


def _disagreements(resources: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """How many (resource, parameter) evaluations ran, and those where the compiler and fhirpathpy differ."""
    by_type, evaluations, differences = _parameters_by_type(), 0, []
    for resource in resources:
        for expression in _expressions_for(resource["resourceType"], by_type):
            native = _multiset(
                item.value for item in compile_expression(expression, resource["resourceType"])(resource)
            )
            reference = _multiset(_reference_values(expression, resource))
            evaluations += 1
            if native != reference:
                differences.append(
                    f"{resource['resourceType']}/{resource.get('id')} {expression}: {native} != {reference}"
                )
    return evaluations, differences


def test_agrees_with_fhirpathpy_on_the_vendored_examples(capsys):
    evaluations, differences = _disagreements(_load(sorted(VENDORED.glob("*.json"))))
    with capsys.disabled():
        print(f"\nVendored examples: {evaluations} evaluations, {len(differences)} differ from fhirpathpy")
    assert evaluations > 1000
    assert differences == []


@pytest.mark.slow
def test_agrees_with_fhirpathpy_on_the_full_example_package(capsys):
    package = full_package()
    if package is None:
        pytest.skip("the hl7.fhir.r4.examples package is not available (no npm or no network)")
    evaluations, differences = _disagreements(_load(sorted(package.glob("*.json"))))
    with capsys.disabled():
        print(f"\nFull R4 example package: {evaluations} evaluations, {len(differences)} differ from fhirpathpy")
        for difference in differences[:20]:
            print("  ", difference[:300])
    assert differences == []
