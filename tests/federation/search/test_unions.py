"""Parameters whose expression is the union of others' are searched on those others' rows and store none."""

from __future__ import annotations

import pytest

from federation.fhir.spec import served_resource_types
from federation.search.indexing import extraction_plan
from federation.search.registry import Component, SearchParameter, _with_unions, parameters_for

pytestmark = pytest.mark.django_db


def test_the_r4_unions_are_observations_combo_parameters():
    unions = {
        (resource_type, code): parameter.union_of
        for resource_type in served_resource_types()
        for code, parameter in parameters_for(resource_type).items()
        if parameter.union_of
    }
    assert unions == {
        ("Observation", "combo-code"): ("code", "component-code"),
        ("Observation", "combo-code-value-concept"): ("code-value-concept", "component-code-value-concept"),
        ("Observation", "combo-code-value-quantity"): ("code-value-quantity", "component-code-value-quantity"),
        ("Observation", "combo-data-absent-reason"): ("component-data-absent-reason", "data-absent-reason"),
        ("Observation", "combo-value-concept"): ("component-value-concept", "value-concept"),
        ("Observation", "combo-value-quantity"): ("component-value-quantity", "value-quantity"),
    }


def test_a_union_is_not_extracted_but_its_members_are():
    extracted = {plan.parameter.code for plan in extraction_plan("Observation")}
    assert not {"combo-code", "combo-code-value-quantity"} & extracted
    assert {"code", "component-code", "component-code-value-quantity"} <= extracted
    assert "code-value-quantity" not in extracted  # its parts are code's and value-quantity's rows


def parameter(
    code: str, expression: str, kind: str = "token", components: tuple[Component, ...] = ()
) -> SearchParameter:
    return SearchParameter(code, kind, "Observation", "Observation", expression, f"urn:{code}", (), components, "")


def composite(code: str, expression: str, *parts: tuple[str, str]) -> SearchParameter:
    """A composite of `parts` (each the code of its definition here, and its expression)."""
    return parameter(code, expression, "composite", tuple(Component(f"urn:{part}", path) for part, path in parts))


@pytest.mark.parametrize(
    ("others", "union"),
    [
        ([parameter("a", "Observation.code")], "Observation.code | Observation.component.code"),  # a part is missing
        (
            [parameter("a", "Observation.code"), parameter("b", "Observation.component.code", "string")],
            "Observation.code | Observation.component.code",  # a part of another search type
        ),
        (
            [parameter("a", "Observation.code"), parameter("b", "Observation.component.code")],
            "Observation.code | Observation.component.code.where(system = 'x | y')",  # a different part
        ),
    ],
)
def test_no_union_unless_other_parameters_of_its_type_cover_it_exactly(others, union):
    parameters = {p.code: p for p in [*others, parameter("u", union)]}
    assert not _with_unions(parameters, "Observation")["u"].union_of


def test_a_union_shared_with_other_types_keeps_only_its_own_types_part():
    parameters = {
        p.code: p
        for p in [
            parameter("a", "Condition.code | Observation.code"),
            parameter("b", "Observation.component.code"),
            parameter("u", "Observation.code | Observation.component.code | Condition.code"),
        ]
    }
    assert _with_unions(parameters, "Observation")["u"].union_of == ("a", "b")


CODE_AND_VALUE = (("c", "code"), ("q", "value.as(Quantity)"))


@pytest.mark.parametrize(
    ("member_parts", "united"),
    [
        (CODE_AND_VALUE, True),
        ((("c", "code"), ("q", "value.as(CodeableConcept)")), False),  # a part of another expression
        ((("c", "code"), ("s", "value.as(Quantity)")), False),  # a part of another search type
        ((("c", "code"),), False),  # fewer parts
        ((("c", "code"), ("unknown", "value.as(Quantity)")), False),  # a part whose definition is not known
    ],
)
def test_a_composite_is_a_union_of_composites_with_the_same_parts(member_parts, united):
    parameters = {
        p.code: p
        for p in [
            parameter("c", "Observation.code"),
            parameter("q", "Observation.value.as(Quantity)", "quantity"),
            parameter("s", "Observation.value.as(string)", "string"),
            composite("root", "Observation", *member_parts),
            composite("parts", "Observation.component", *CODE_AND_VALUE),
            composite("both", "Observation | Observation.component", *CODE_AND_VALUE),
        ]
    }
    assert _with_unions(parameters, "Observation")["both"].union_of == (("parts", "root") if united else ())
