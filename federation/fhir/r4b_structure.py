"""A quick "surely valid" answer for resource JSON, compiled from the fhir.resources R4B models.

The models build one pydantic object per element and run fhir_core's Python validators on each,
most of the CPU an ingest spends. Here each model is compiled once, on first use, into a `_Shape`:
its JSON keys with a check per key (a primitive's rule, or the Shape of a complex type), its
required keys and its choice groups (`value[x]`). Walking the plain JSON against Shapes answers
True only for JSON the model surely accepts. Anything it is unsure of (a null, an empty object,
`fhir_comments`, a leap second, a key the Shape lacks, a value pydantic would coerce such as "true"
for a boolean) answers False: the caller then asks the model, which also words the errors.
"""

from __future__ import annotations

import binascii
import datetime
import functools
import re
import threading
import types
import typing
from collections.abc import Callable
from decimal import Decimal as PythonDecimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIR_COMMENTS_FIELD_NAME, FHIRAbstractModel
from fhir_core.types import Date, DateTime, FhirBase, FhirElementOrResourceBase, Instant, Time
from pydantic.fields import FieldInfo

Check = Callable[[Any], bool]


def surely_valid(resource: Any) -> bool:
    """True only when the R4B model of `resource`'s type would accept it; False means "ask the model".

    True also says that `resource` holds only what JSON text reads as, by exact type: dict, list, str, int, bool
    and Decimal (a float goes to the model), so a writer needs no check of its own (core.fhir_json)."""
    try:
        return _any_resource(resource)
    except RecursionError:
        return False  # nested deeper than this walk goes: the model decides


def item_annotation(annotation: Any) -> tuple[Any, bool]:
    """A model field's annotation without Optional and list: the type of one item, and whether it repeats."""
    annotation = _without_none(annotation)
    if typing.get_origin(annotation) is list:
        return _without_none(typing.get_args(annotation)[0]), True
    return annotation, False


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


class _Shape:
    """One model's JSON keys and rules. Empty until filled, and an empty Shape accepts nothing."""

    __slots__ = ("choices", "repeating", "required", "required_choices", "single")

    def __init__(self) -> None:
        # Each key with its check: those that neither repeat nor are a choice, those that repeat (the check
        # is of each item), and those in a choice group, with their group (`value` of `value[x]`).
        self.single: dict[str, Check] = {}
        self.repeating: dict[str, Check] = {}
        self.choices: dict[str, tuple[Check, str]] = {}
        self.required: frozenset[str] | None = None  # None when nothing is: most data types
        self.required_choices: frozenset[str] | None = None

    def accepts(self, node: Any) -> bool:
        if type(node) is not dict or not node:
            return False
        single = self.single
        repeating = self.repeating
        chosen: set[str] | None = None
        for key, value in node.items():
            check = single.get(key)  # most keys: one lookup and the check
            if check is None:
                check = repeating.get(key)
                if check is not None:
                    # A list (empty too: fhir_core accepts it) of items that pass; the loop is here, not
                    # in a function of its own, to spare a call per list.
                    if type(value) is not list:
                        return False
                    for item in value:
                        if not check(item):
                            return False
                    continue
                in_choice = self.choices.get(key)
                if in_choice is None:
                    return False
                check, choice = in_choice
                if chosen is None:
                    chosen = {choice}
                elif choice in chosen:
                    return False
                else:
                    chosen.add(choice)
            if not check(value):
                return False
        required = self.required
        if required is not None and not node.keys() >= required:
            return False
        required_choices = self.required_choices
        return required_choices is None or (chosen is not None and chosen >= required_choices)


# Model validators whose rules the Shapes carry: fhir_core's null, required and choice checks, and
# the primitive extension's "id or extension" (a Shape refuses empty objects). A model with any
# other validator gets an empty Shape, so its elements always go to the model.
_KNOWN_VALIDATORS = frozenset(
    {"reject_null_complex_elements", "validate_after_model_construction", "validate_extension_or_fhir_comment_required"}
)

_shapes: dict[type[FHIRAbstractModel], _Shape] = {}
_compiling = threading.Lock()


def _resource_shape(type_name: Any) -> _Shape | None:
    """The Shape of resource type `type_name`; None for anything that does not name a resource model."""
    return _named_resource_shape(type_name) if type(type_name) is str else None


@functools.lru_cache(maxsize=512)  # bounded: the names come from the request
def _named_resource_shape(type_name: str) -> _Shape | None:
    try:
        model = get_fhir_model_class(type_name)
    except ValueError:
        return None
    return _shape(model) if model.has_resource_base() else None


def _shape(model: type[FHIRAbstractModel]) -> _Shape:
    """`model`'s Shape, compiling it and every model it reaches that is not compiled yet.

    Another thread may meet a Shape registered but not yet filled: it accepts nothing, so that
    thread asks the model, which is slower but right.
    """
    with _compiling:
        pending: list[type[FHIRAbstractModel]] = []
        _model_check(model, pending)
        while pending:
            current = pending.pop()
            _fill(_shapes[current], current, pending)
        return _shapes[model]


def _fill(shape: _Shape, model: type[FHIRAbstractModel], pending: list[type[FHIRAbstractModel]]) -> None:
    decorators = model.__pydantic_decorators__
    if (
        model.__init__ is not FHIRAbstractModel.__init__
        or decorators.field_validators
        or set(decorators.model_validators) - _KNOWN_VALIDATORS
    ):
        return
    # fhir_core asks an instance for these, though they do not depend on one.
    instance = model.model_construct()
    choice_groups = instance.get_one_of_many_fields()
    choice_of = {name: choice for choice, names in choice_groups.items() for name in names}
    single: dict[str, Check] = {}
    repeating: dict[str, Check] = {}
    choices: dict[str, tuple[Check, str]] = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if field.is_required():
            required.append(key)
        item, repeats = item_annotation(field.annotation)
        check = None if name == FHIR_COMMENTS_FIELD_NAME else _primitive_check(item) or _complex_check(item, pending)
        if check is None:
            continue
        if name in choice_of:  # none repeats in R4B (one that did would be refused: its check meets a list)
            choices[key] = (check, choice_of[name])
        elif repeats:
            repeating[key] = check
        else:
            single[key] = check
    if model.has_resource_base():
        single["resourceType"] = _exactly(model.get_resource_type())
    if model.get_resource_type() == "Extension":
        # fhir.resources' Extension lacks `_value[x]`; r4b.validation_issues checks it as an Element.
        element = _model_check(get_fhir_model_class("Element"), pending)
        for name in choice_groups["value"]:
            single.setdefault(f"_{model.model_fields[name].alias or name}", element)
    # Required primitives may be absent when `_element` holds an extension; here they must be present.
    required.extend(element_name for element_name, _ in instance.get_required_fields())
    shape.required = frozenset(required) or None
    shape.required_choices = (
        frozenset(
            choice
            for choice, names in choice_groups.items()
            if field_extra(model.model_fields[names[0]]).get("one_of_many_required") is True
        )
        or None
    )
    shape.choices = choices
    shape.repeating = repeating
    shape.single = single  # last: until then, a key not filled in yet is refused


def field_extra(field: FieldInfo) -> dict[str, Any]:
    """The fhir.resources facts a model field carries (one_of_many, element_property...)."""
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _complex_check(item: Any, pending: list[type[FHIRAbstractModel]]) -> Check | None:
    """The check of a complex type (a model, or any resource for `contained`); None if not one."""
    if not (isinstance(item, type) and issubclass(item, FhirBase)):
        return None
    model = item.get_model_klass()
    if issubclass(item, FhirElementOrResourceBase):
        return _any_resource if model.__name__ == "Resource" else None
    return _model_check(model, pending)


def _model_check(model: type[FHIRAbstractModel], pending: list[type[FHIRAbstractModel]]) -> Check:
    """`model`'s Shape's check; a Shape not compiled yet is registered and left to fill."""
    if model not in _shapes:
        _shapes[model] = _Shape()
        pending.append(model)
    return _shapes[model].accepts


def _any_resource(node: Any) -> bool:
    """A resource inside a resource (contained, Bundle.entry.resource), checked as its resourceType says."""
    if type(node) is not dict:
        return False
    shape = _resource_shape(node.get("resourceType"))
    return shape is not None and shape.accepts(node)


# Primitives. Each check accepts a subset of what fhir_core's type accepts (pydantic in lax mode
# takes more: "true" for a boolean, 1.0 for an integer), never more.

# pydantic-core cannot take these into a Rust string. A surrogate is not printable: printable text
# (most Japanese text, for which the search takes twice as long) needs no search.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_text(value: Any) -> bool:
    return type(value) is str and (value.isascii() or value.isprintable() or _SURROGATE.search(value) is None)


# _string and _code spell _is_text out rather than call it: one call less for the commonest elements.
def _string(value: Any) -> bool:
    # fhir_core: pattern `[ \r\n\t\S]+`, searched. Every Unicode White_Space is str.isspace(), so a
    # character that is not isspace() matches \S (\x1c-\x1f: isspace() but not \s; those are left out).
    return (
        type(value) is str
        and (value.isascii() or value.isprintable() or _SURROGATE.search(value) is None)
        and value != ""
        and not value.isspace()
    )


# fhir_core: ^[^\s]+(\s[^\s]+)*$ (Rust's \s). Python's \s covers Rust's, so a match here is one there.
_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # fhir_core allows up to 255 characters; FHIR says 64
_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")


def _exactly(text: str) -> Check:
    return lambda value: type(value) is str and value == text


def _matching(pattern: re.Pattern[str]) -> Check:
    return lambda value: type(value) is str and pattern.fullmatch(value) is not None


def _base64(value: Any) -> bool:
    # pydantic decodes with base64.b64decode, which skips characters outside the alphabet; strict
    # decoding accepts less.
    if type(value) is not str:
        return False
    try:
        binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        return False
    return True


def _code(value: Any) -> bool:
    return (
        type(value) is str
        and (value.isascii() or value.isprintable() or _SURROGATE.search(value) is None)
        and _CODE.fullmatch(value) is not None
    )


_LONG_INT = 10**1000


def _decimal(value: Any) -> bool:
    # fhir_core matches str(value) against the decimal pattern, so bools ("True"), NaN and Infinity
    # fail. Any int matches; str() of one over 4,300 digits raises, so those go to the model. A float (only
    # Python code makes one: JSON is read as Decimal) goes to the model too, so that True means plain JSON.
    if type(value) is int:
        return -_LONG_INT < value < _LONG_INT
    return type(value) is PythonDecimal and value.is_finite()  # a finite Decimal's text always matches


def _without_captures(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` with its groups made non-capturing: it matches the same text, in about two thirds of the time."""
    assert "\\(" not in pattern.pattern, "only plain groups are rewritten"
    assert "(?" not in pattern.pattern, "only plain groups are rewritten"
    return re.compile(pattern.pattern.replace("(", "(?:"), pattern.flags)


_DATE = _without_captures(Date.pattern)
_DATE_TIME = _without_captures(DateTime.pattern)
_INSTANT = _without_captures(Instant.pattern)
_TIME = _without_captures(Time.pattern)


def _is_day(text: str) -> bool:
    """YYYY-MM-DD at the start of `text`, which the type's pattern matched, names a day of the calendar
    (2024-02-30 does not)."""
    if text[8:10] < "29":
        return True  # the pattern allows months 01-12 and years 0001-9999: each has days 01-28
    try:
        datetime.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def _date(value: Any) -> bool:
    # The pattern allows a year, a month or a day; only a full date is parsed by pydantic.
    return type(value) is str and _DATE.fullmatch(value) is not None and (len(value) < 10 or _is_day(value))


def _date_time(value: Any) -> bool:
    # With a time the pattern demands seconds and a zone; second 60 (a leap second) goes to the model.
    return (
        type(value) is str
        and _DATE_TIME.fullmatch(value) is not None
        and (len(value) < 10 or _is_day(value))
        and value[17:19] != "60"
    )


def _instant(value: Any) -> bool:
    return type(value) is str and _INSTANT.fullmatch(value) is not None and _is_day(value) and value[17:19] != "60"


def _time(value: Any) -> bool:
    return type(value) is str and _TIME.fullmatch(value) is not None and value[6:8] != "60"


def _boolean(value: Any) -> bool:
    return type(value) is bool


def _integer(minimum: int, maximum: int) -> Check:
    return lambda value: type(value) is int and minimum <= value <= maximum


_PRIMITIVE_CHECKS: dict[str, Check] = {
    "string": _string,
    "code": _code,
    "id": _matching(_ID),
    "oid": _matching(_OID),
    "base64Binary": _base64,
    # fhir_core's uri, canonical and markdown patterns match any text, url takes any string, xhtml too.
    "uri": _is_text,
    "canonical": _is_text,
    "url": _is_text,
    "markdown": _is_text,
    "xhtml": _is_text,
    "decimal": _decimal,
    "date": _date,
    "dateTime": _date_time,
    "instant": _instant,
    "time": _time,
}


def _primitive_check(item: Any) -> Check | None:
    """The check of a primitive type (its fhir_core marker names it); None if not a primitive we know."""
    if item is bool:
        return _boolean
    if typing.get_origin(item) is not typing.Annotated:
        return None
    for marker in typing.get_args(item)[1:]:
        name = getattr(marker, "__visit_name__", None)
        if name in ("integer", "unsignedInt", "positiveInt"):
            return _integer(marker.min_length, marker.max_length)
        if name in _PRIMITIVE_CHECKS:
            return _PRIMITIVE_CHECKS[name]
    return None
