"""A composite of the resource itself is searched on the rows of the parameters its parts are, when each part
selects exactly what that parameter stores."""

from __future__ import annotations

import pytest

from federation.fhir.spec import served_resource_types
from federation.search.registry import Component, SearchParameter, _with_shared_parts, parameters_for

pytestmark = pytest.mark.django_db


def test_the_r4_composites_of_the_resource_itself_are_observations_code_value_ones():
    shared = {
        (resource_type, code): parameter.parts_from
        for resource_type in served_resource_types()
        for code, parameter in parameters_for(resource_type).items()
        if parameter.parts_from
    }
    assert shared == {
        ("Observation", "code-value-concept"): ("code", "value-concept"),
        ("Observation", "code-value-date"): ("code", "value-date"),
        ("Observation", "code-value-quantity"): ("code", "value-quantity"),
    }  # not code-value-string: value-string reads a CodeableConcept's text too


def parameter(code: str, expression: str, kind: str, components: tuple[Component, ...] = ()) -> SearchParameter:
    return SearchParameter(code, kind, "Observation", "Observation", expression, f"urn:{code}", (), components, "")


def parts_from(composite_expression: str, value_part: str, value_parameter: str, kind: str) -> tuple[str, ...]:
    parameters = {
        p.code: p
        for p in [
            parameter("c", "Observation.code", "token"),
            parameter("v", value_parameter, kind),
            parameter(
                "cv",
                composite_expression,
                "composite",
                (Component("urn:c", "code"), Component("urn:v", value_part)),
            ),
        ]
    }
    return _with_shared_parts(parameters, "Observation")["cv"].parts_from


@pytest.mark.parametrize(
    ("composite_expression", "value_part", "value_parameter", "kind", "shared"),
    [
        ("Observation", "value.as(Quantity)", "(Observation.value as Quantity)", "quantity", True),
        # a selection that gives the quantity parameter no row (SampledData) does not count
        (
            "Observation",
            "value.as(Quantity)",
            "Observation.value.as(Quantity) | Observation.value.as(SampledData)",
            "quantity",
            True,
        ),
        ("Observation", "value.as(DateTime)", "Observation.value.as(dateTime)", "date", True),
        # the parameter selects more than the part: its rows would match more
        (
            "Observation",
            "value.as(string)",
            "Observation.value.as(string) | Observation.value.as(CodeableConcept).text",
            "string",
            False,
        ),
        ("Observation", "value.as(Quantity)", "Observation.component.value.as(Quantity)", "quantity", False),
        # a composite over nodes in the resource: each node's parts are tied by its group
        ("Observation.component", "value.as(Quantity)", "Observation.value.as(Quantity)", "quantity", False),
        # a part outside plain paths
        ("Observation", "value.where(value > 1)", "Observation.value.as(Quantity)", "quantity", False),
    ],
)
def test_parts_are_shared_only_when_they_select_what_the_parameter_stores(
    composite_expression, value_part, value_parameter, kind, shared
):
    assert parts_from(composite_expression, value_part, value_parameter, kind) == (("c", "v") if shared else ())
