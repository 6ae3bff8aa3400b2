"""The models of fhir.resources R4B, and the only module using them besides its fast check (r4b_structure).

R4B shares R4's data types and almost all of its resources, so its pydantic models validate R4
content; R4 resource types that R4B removed are not served (see docs/decisions.md).
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir_core.constraints import FHIR_PRIMITIVES, FHIR_PRIMITIVES_MAPS
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from core.outcome import Issue
from federation.fhir import r4b_structure


def has_model(resource_type: str) -> bool:
    return hasattr(fhirtypes, f"{resource_type}Type")


def validation_issues(resource: dict[str, Any]) -> list[Issue]:
    """Structural problems of `resource` against its R4B model, one Issue per problem."""
    return checked_issues(resource)[0]


def checked_issues(resource: dict[str, Any]) -> tuple[list[Issue], bool]:
    """`validation_issues`, and whether the fast check vouched for `resource`: then it also holds only plain JSON
    values (r4b_structure.surely_valid).

    Most resources are valid: a walk of the JSON compiled from the models says so in a tenth of
    the model's time. When it cannot, the model answers (and words the problems).
    """
    if r4b_structure.surely_valid(resource):
        return [], True
    return model_issues(resource), False


def model_issues(resource: dict[str, Any]) -> list[Issue]:
    """What `validation_issues` answers, always from the model (slower; for comparing against)."""
    resource_type = resource["resourceType"]
    details = _model_errors(resource)
    if any(_is_extension_value_element(detail) for detail in details):
        # fhir.resources' Extension lacks `_value[x]` (extensions on an extension's primitive
        # value, e.g. a translation): valid FHIR, so check those parts apart from the model.
        stripped, elements = _split_extension_value_elements(resource)
        details = _model_errors(stripped) + [
            {**detail, "loc": ("extension", *detail["loc"])}
            for element in elements
            for detail in _element_errors(element)
        ]
    return [
        Issue("structure", _message(detail), expression=(_fhirpath(resource_type, detail["loc"]),))
        for detail in details
    ]


def _model_errors(resource: dict[str, Any]) -> list[Any]:
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as error:
        return list(error.errors(include_url=False, include_input=False))
    return []


def _element_errors(element: Any) -> list[Any]:
    try:
        get_fhir_model_class("Element").model_validate(element)
    except ValidationError as error:
        return list(error.errors(include_url=False, include_input=False))
    return []


def _is_extension_value_element(detail: Any) -> bool:
    location = detail["loc"]
    return (
        detail["type"] == "extra_forbidden"
        and len(location) >= 2
        and str(location[-1]).startswith("_value")
        and "extension" in str(location[-2] if isinstance(location[-2], str) else location[-3])
    )


def _split_extension_value_elements(node: Any, *, in_extension: bool = False) -> tuple[Any, list[Any]]:
    """A copy of `node` without `_value[x]` keys inside extensions, and the removed elements."""
    if isinstance(node, list):
        parts = [_split_extension_value_elements(item, in_extension=in_extension) for item in node]
        return [part for part, _ in parts], [element for _, elements in parts for element in elements]
    if not isinstance(node, dict):
        return node, []
    copy: dict[str, Any] = {}
    removed: list[Any] = []
    for key, value in node.items():
        if in_extension and key.startswith("_value"):
            removed.append(value)
            continue
        inner, elements = _split_extension_value_elements(value, in_extension=key in ("extension", "modifierExtension"))
        copy[key] = inner
        removed.extend(elements)
    return copy, removed


def _fhirpath(resource_type: str, location: tuple[int | str, ...]) -> str:
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("function-"):
            path += f".{part}"
    return path


def _message(detail: Any) -> str:
    message = str(detail["msg"])
    return message.removeprefix("Value error, ")


# Element types, read off the models, for compiling FHIRPath (federation.search.fhirpath).

# FHIR's primitive type derivations (each StructureDefinition's baseDefinition): the models'
# annotation classes do not mirror them (fhir_core's Code does not derive from String).
_PRIMITIVE_BASES = {
    "code": "string",
    "id": "string",
    "markdown": "string",
    "canonical": "uri",
    "oid": "uri",
    "url": "uri",
    "uuid": "uri",
    "positiveInt": "integer",
    "unsignedInt": "integer",
}


@functools.cache
def element_type(type_name: str, element: str) -> tuple[str, bool] | None:
    """The FHIR type of `type_name.element` and whether it repeats; None when there is no such element.

    Choice elements (Observation.value) have no single type, so they are None here: see
    `choice_types`. Primitives are named as FHIR names them (string, dateTime...); complex types by
    their model class, which is the FHIR name for data types and resources, and the R4B class name
    (ObservationComponent) for backbone elements, which FHIR calls all BackboneElement but whose
    children differ. Elements typed by any resource (contained, Bundle.entry.resource) are Resource.
    """
    field = _element_fields(type_name).get(element)
    return None if field is None else _field_type(field.annotation)


@functools.cache
def choice_types(type_name: str, element: str) -> dict[str, str]:
    """The variants of choice element `element[x]` of `type_name`: JSON key -> FHIR type.

    For example Observation.value gives {"valueQuantity": "Quantity", "valueString": "string", ...};
    empty when `element` is not a choice element of `type_name`.
    """
    return {
        key: _field_type(field.annotation)[0]
        for key, field in _element_fields(type_name).items()
        if r4b_structure.field_extra(field).get("one_of_many") == element
    }


@functools.cache
def type_ancestors(type_name: str) -> tuple[str, ...]:
    """`type_name` and the FHIR types it specialises, nearest first, so FHIRPath `is`/`as` can match.

    Age gives (Age, Quantity, Element), code (code, string), Observation (Observation,
    DomainResource, Resource); a name that is neither a model nor a primitive gives ().
    """
    if type_name in _PRIMITIVE_BASES:
        return (type_name, *type_ancestors(_PRIMITIVE_BASES[type_name]))
    if type_name in FHIR_PRIMITIVES:
        return (type_name,)
    try:
        model = get_fhir_model_class(type_name)
    except ValueError:
        return ()
    # The rest of the MRO is fhir.resources', fhir_core's and pydantic's machinery, not FHIR types.
    return tuple(cls.__name__ for cls in model.__mro__ if has_model(cls.__name__))


@functools.cache
def _element_fields(type_name: str) -> dict[str, FieldInfo]:
    """The model's FHIR elements by JSON name (`class`, not the Python `class_`); {} for primitives."""
    try:
        model = get_fhir_model_class(type_name)
    except ValueError:
        return {}
    return {
        field.alias or name: field
        for name, field in model.model_fields.items()
        if r4b_structure.field_extra(field).get("element_property")
    }


def _field_type(annotation: Any) -> tuple[str, bool]:
    """FHIR type name of a model field's annotation, and whether the field is a list."""
    annotation, repeats = r4b_structure.item_annotation(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        # Annotated[str, Code()]: the marker names the FHIR type; a few (uuid) are known only as a whole.
        for marker in reversed(typing.get_args(annotation)[1:]):
            if isinstance(getattr(marker, "__visit_name__", None), str):
                return marker.__visit_name__, repeats
    if annotation in FHIR_PRIMITIVES_MAPS:
        return FHIR_PRIMITIVES_MAPS[annotation], repeats
    # Complex types are declared as fhirtypes' placeholders: CodeableConceptType, ObservationComponentType.
    return annotation.__name__.removesuffix("Type"), repeats


@functools.cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level JSON names of the elements the spec marks isSummary (for `_summary=true`)."""
    fields = get_fhir_model_class(resource_type).model_fields
    return frozenset(
        info.alias or name
        for name, info in fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("summary_element_property")
    )
