"""The only module that imports fhir.resources, and only its R4B models.

R4B shares R4's data types and almost all of its resources, so its pydantic models validate R4
content; R4 resource types that R4B removed are not served (see docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from pydantic import ValidationError

from core.outcome import Issue


def has_model(resource_type: str) -> bool:
    return hasattr(fhirtypes, f"{resource_type}Type")


def validation_issues(resource: dict[str, Any]) -> list[Issue]:
    """Structural problems of `resource` against its R4B model, one Issue per problem."""
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


def load_models(resource_types: list[str]) -> None:
    """Build the model classes up front, so the first request of each type pays nothing."""
    for resource_type in resource_types:
        get_fhir_model_class(resource_type)


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
