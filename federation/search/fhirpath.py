"""Search-index extraction: SearchParameter FHIRPath expressions compiled to Python closures.

Every write indexes the resource under each search parameter of its type, so the expressions run
hundreds of thousands of times a day: a FHIRPath interpreter (fhirpathpy walks its parse tree and
wraps every node) is far too slow. Search parameters use a small part of FHIRPath (paths, choice
casts, `where` on literals and reference targets, `extension(url)`, an indexer), so this module
compiles that part, once per (expression, resource type), into closures over the resource's JSON.
The closures know each node's FHIR type statically, from the R4B models, and return it with the
value, since the index needs it (a date and a Period are indexed differently).

Anything outside that part is evaluated by fhirpathpy instead, never guessed at, and `is_native`
tells which expressions that is, so coverage can be reported.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import fhirpathpy
from fhirpathpy.engine.nodes import FP_DateTime, FP_Quantity, FP_Time, ResourceNode
from fhirpathpy.models import models as fhirpathpy_models

from federation.fhir.r4b import choice_types, element_type, type_ancestors
from federation.search.values import named_target


@dataclass(slots=True)
class TypedValue:
    """One node an expression selected: its FHIR type and the JSON node itself.

    Types are FHIR's names (primitives lower-case: string, dateTime...), the present variant's for a
    choice element (valueQuantity: Quantity), the resource's own for contained and Bundle entries,
    and R4B's class name for backbone elements (ObservationComponent), which FHIR calls all
    BackboneElement though their elements differ (compile_relative needs to tell them apart).
    Not frozen: a frozen dataclass is built through object.__setattr__, several times slower, and
    indexing builds one per value of every parameter of every write.
    """

    type: str
    value: Any


Evaluator = Callable[[dict[str, Any]], list[TypedValue]]
# What the compiled closures give: the selected nodes in order, grouped in runs of one FHIR type. Indexing
# reads these directly, choosing how to index a type once per run instead of once per node, with no
# TypedValue built per node; compile_expression and compile_relative flatten them into TypedValues.
TypedNodes = tuple[str, list[Any]]
# Evaluates from one node, given in a list (the resource, or a composite's node), within its resource. The
# compiled runners take lists, and a path's runner is then its evaluator itself: no call in between.
GroupedEvaluator = Callable[[list[Any], dict[str, Any]], list[TypedNodes]]
# Evaluates on a node within its resource, if known (see compile_relative for when it is not).
_Evaluation = Callable[[Any, dict[str, Any] | None], list[TypedNodes]]


class RelativeEvaluator(Protocol):
    """What compile_relative gives: evaluates on a node of the given type within its resource."""

    def __call__(self, node: Any, type_name: str, resource: dict[str, Any] | None = None) -> list[TypedValue]: ...


@functools.cache
def compile_expression(expression: str, resource_type: str) -> Evaluator:
    """A function giving the typed nodes `expression` selects in a `resource_type` resource.

    Only the union parts that apply to `resource_type` are kept (rooted at it, at one of its
    ancestors such as Resource, or at no type at all), so a shared expression like
    `Patient.name | Practitioner.name` costs one path per type. Compiled once, then cached.
    """
    evaluate = _compile(expression, resource_type).evaluate
    return lambda resource: _typed_values(evaluate(resource, resource))


@functools.cache
def compile_relative(expression: str) -> RelativeEvaluator:
    """For a composite's components (`code`, `value.as(Quantity)`): a function of a node the
    composite's expression selected, its TypedValue.type, and the resource it is in.

    Compiled on first use for each node type, then cached. Without the resource, `%resource` fails
    (in fhirpathpy) rather than reading the node, and `#id` references resolve within the node.
    """

    def evaluate(node: Any, type_name: str, resource: dict[str, Any] | None = None) -> list[TypedValue]:
        return _typed_values(_compile(expression, type_name).evaluate(node, resource))

    return evaluate


def grouped_evaluator(expression: str, context_type: str) -> GroupedEvaluator:
    """What compile_expression (context_type a resource type) and compile_relative (a composite's node type)
    evaluate, given as it is computed: runs of nodes of one type, which the TypedValues only flatten."""
    return _compile(expression, context_type).run


def _typed_values(found: list[TypedNodes]) -> list[TypedValue]:
    return [TypedValue(type_name, node) for type_name, nodes in found for node in nodes]


def is_native(expression: str, resource_type: str) -> bool:
    """Whether `expression` runs as compiled closures for `resource_type`, not through fhirpathpy."""
    return _compile(expression, resource_type).native


def resource_keys(expression: str, resource_type: str) -> frozenset[str] | None:
    """The top-level JSON keys `expression` starts from in a `resource_type` resource: with none of them
    present it selects nothing, so indexing skips it unevaluated (most parameters of a type find nothing
    in a given resource). None when no such set is known: fhirpathpy's expressions (`x.exists()` is
    true or false either way) and paths that start at the resource itself (`Observation`).
    """
    return _compile(expression, resource_type).reads


ElementPath = tuple[tuple[str, ...], str]  # JSON keys from the context node, and the FHIR type found there


def selected_elements(expression: str, context_type: str) -> frozenset[ElementPath] | None:
    """Where `expression` selects in a `context_type` node: the JSON key paths, each with the FHIR type there,
    when it is made of element paths and casts alone (None otherwise). Two expressions with the same answer
    select the same values however they are written (`value.as(Quantity)`, `(Observation.value as Quantity)`);
    the context itself (`Observation`) is the empty path."""
    try:
        parts = [part for part in _union_parts(_parse(expression)) if _applies(part, context_type)]
        return frozenset().union(*(_path_elements(_resource_steps(part), context_type, ()) for part in parts))
    except _NotCompiledError:
        return None


def _path_elements(steps: Sequence[_Step], current: str, keys: tuple[str, ...]) -> frozenset[ElementPath]:
    if not steps:
        return frozenset({(keys, current)})
    step, rest = steps[0], steps[1:]
    if isinstance(step, _Cast):
        return _path_elements(rest, current, keys) if _cast_matches(step.type_name, current) else frozenset()
    if not isinstance(step, _Child):
        raise _NotCompiledError(f"Not a plain path: {step}")
    found = element_type(current, step.name)
    if found is not None:
        return _path_elements(rest, found[0], (*keys, step.name))
    variants = choice_types(current, step.name)
    if not variants:
        raise _NotCompiledError(f"{current} has no element {step.name}")
    return frozenset().union(*(_path_elements(rest, type_name, (*keys, key)) for key, type_name in variants.items()))


class _NotCompiledError(ValueError):
    """An expression, or a part of one, outside the subset this module compiles."""


# ---------------------------------------------------------------------------------------------
# Parsing: FHIRPath's grammar, precedence included, into a small syntax tree. The whole grammar is
# parsed (bar unary signs and `{}`) so that union parts can be told apart and handed to fhirpathpy
# by their source text; only the compiler below is limited to the subset.

_TOKENS = re.compile(
    r"""\s+
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<name>[A-Za-z_]\w*|`[^`]*`|[$%][A-Za-z_]\w*)
    |(?P<symbol>!=|!~|<=|>=|[.()\[\]|=~<>+\-*/&,])""",
    re.VERBOSE,
)
_ESCAPES = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_ESCAPED = {"f": "\f", "n": "\n", "r": "\r", "t": "\t"}

# Binary operators, loosest first (the FHIRPath specification's precedence table).
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("implies",),
    ("or", "xor"),
    ("and",),
    ("in", "contains"),
    ("=", "~", "!=", "!~"),
    ("<=", "<", ">", ">="),
    ("|",),
    ("is", "as"),
    ("+", "-", "&"),
    ("*", "/", "div", "mod"),
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class _Identifier:
    name: str
    span: tuple[int, int]


@dataclass(frozen=True)
class _Literal:
    value: str | bool | int | Decimal
    span: tuple[int, int]


@dataclass(frozen=True)
class _Member:
    target: _Node
    name: str
    span: tuple[int, int]


@dataclass(frozen=True)
class _Function:
    target: _Node | None  # None: invoked on $this, as in `where(extension('...') ...)`
    name: str
    arguments: tuple[_Node, ...]
    span: tuple[int, int]


@dataclass(frozen=True)
class _Indexer:
    target: _Node
    index: _Node
    span: tuple[int, int]


@dataclass(frozen=True)
class _Binary:
    operator: str
    left: _Node
    right: _Node
    span: tuple[int, int]


_Node = _Identifier | _Literal | _Member | _Function | _Indexer | _Binary


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKENS.match(text, position)
        if match is None:
            raise _NotCompiledError(f"Cannot read FHIRPath at {text[position:]!r}")
        if match.lastgroup is not None:
            tokens.append(_Token(match.lastgroup, match.group(), match.start(), match.end()))
        position = match.end()
    return tokens


def _unescape(quoted: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        return chr(int(escaped[1:], 16)) if len(escaped) == 5 else _ESCAPED.get(escaped, escaped)

    return _ESCAPES.sub(replace, quoted[1:-1])


class _Parser:
    """Recursive descent over the tokens; every node keeps its source span."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def parse(self) -> _Node:
        node = self._binary(0)
        if self.position != len(self.tokens):
            raise _NotCompiledError(f"Unexpected {self.tokens[self.position].text!r}")
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise _NotCompiledError("Unexpected end of expression")
        self.position += 1
        return token

    def _accept(self, text: str) -> _Token | None:
        token = self._peek()
        if token is not None and token.kind == "symbol" and token.text == text:
            self.position += 1
            return token
        return None

    def _expect(self, text: str) -> _Token:
        token = self._accept(text)
        if token is None:
            raise _NotCompiledError(f"Expected {text!r}")
        return token

    def _binary(self, level: int) -> _Node:
        if level == len(_LEVELS):
            return self._postfix()
        left = self._binary(level + 1)
        while (token := self._peek()) is not None and token.text in _LEVELS[level]:
            self.position += 1
            right = self._type_name() if token.text in ("is", "as") else self._binary(level + 1)
            left = _Binary(token.text, left, right, (left.span[0], right.span[1]))
        return left

    def _type_name(self) -> _Identifier:
        """The type after `is` / `as`; FHIR's namespace may be spelt out (`FHIR.Patient`)."""
        token = self._next()
        if token.kind != "name":
            raise _NotCompiledError(f"Expected a type name, not {token.text!r}")
        if self._accept("."):
            if token.text != "FHIR":
                raise _NotCompiledError(f"Type {token.text}.… is not a FHIR type")
            token = self._next()
        return _Identifier(token.text.strip("`"), (token.start, token.end))

    def _postfix(self) -> _Node:
        node = self._term()
        while True:
            if self._accept("."):
                name = self._next()
                if name.kind != "name":
                    raise _NotCompiledError(f"Expected a name after '.', not {name.text!r}")
                if self._accept("("):
                    arguments, end = self._arguments()
                    node = _Function(node, name.text, arguments, (node.span[0], end))
                else:
                    node = _Member(node, name.text.strip("`"), (node.span[0], name.end))
            elif self._accept("["):
                index = self._binary(0)
                node = _Indexer(node, index, (node.span[0], self._expect("]").end))
            else:
                return node

    def _arguments(self) -> tuple[tuple[_Node, ...], int]:
        """The arguments after an opening parenthesis, and where the closing one ends."""
        arguments: list[_Node] = []
        if (close := self._accept(")")) is not None:
            return (), close.end
        arguments.append(self._binary(0))
        while self._accept(","):
            arguments.append(self._binary(0))
        return tuple(arguments), self._expect(")").end

    def _term(self) -> _Node:
        token = self._next()
        span = (token.start, token.end)
        if token.kind == "string":
            return _Literal(_unescape(token.text), span)
        if token.kind == "number":
            return _Literal(Decimal(token.text) if "." in token.text else int(token.text), span)
        if token.kind == "name":
            if token.text in ("true", "false"):
                return _Literal(token.text == "true", span)
            if self._accept("("):
                arguments, end = self._arguments()
                return _Function(None, token.text, arguments, (token.start, end))
            return _Identifier(token.text.strip("`"), span)
        if token.text == "(":
            inner = self._binary(0)
            return dataclasses.replace(inner, span=(token.start, self._expect(")").end))
        raise _NotCompiledError(f"Unexpected {token.text!r}")


# ---------------------------------------------------------------------------------------------
# Which union parts apply to a resource type.


def _union_parts(node: _Node) -> list[_Node]:
    if isinstance(node, _Binary) and node.operator == "|":
        return _union_parts(node.left) + _union_parts(node.right)
    return [node]


def _path_roots(node: _Node) -> list[_Identifier]:
    """The identifiers that start the paths of `node`, outside function arguments (which start at $this)."""
    if isinstance(node, _Identifier):
        return [node]
    if isinstance(node, _Member | _Indexer | _Function):
        return [] if node.target is None else _path_roots(node.target)
    if isinstance(node, _Binary):
        return _path_roots(node.left) + ([] if node.operator in ("is", "as") else _path_roots(node.right))
    return []


def _is_type_name(name: str) -> bool:
    """FHIRPath reads a leading identifier as a type when it names one: resource types are capitalised, elements not."""
    return name[:1].isupper()


def _ancestors(resource_type: str) -> tuple[str, ...]:
    return type_ancestors(resource_type) or (resource_type, "DomainResource", "Resource")


def _applies(part: _Node, resource_type: str) -> bool:
    roots = _path_roots(part)
    return not roots or not _is_type_name(roots[0].name) or roots[0].name in _ancestors(resource_type)


# ---------------------------------------------------------------------------------------------
# Compiling. A path becomes steps; the steps become a chain of runners, each taking the whole
# collection reached so far (a list of JSON nodes of one static FHIR type) and the resource.

_Runner = Callable[[list[Any], dict[str, Any]], list[Any]]
_Terminal = Callable[[str], _Runner]  # ends a chain whose nodes have the given static type
_Condition = Callable[[Any, dict[str, Any]], bool]


@dataclass(frozen=True)
class _Child:
    name: str


@dataclass(frozen=True)
class _Cast:
    type_name: str


@dataclass(frozen=True)
class _Filter:
    condition: _Node


@dataclass(frozen=True)
class _ExtensionStep:
    url: str


@dataclass(frozen=True)
class _Pick:
    index: int


_Step = _Child | _Cast | _Filter | _ExtensionStep | _Pick


def _steps(node: _Node) -> list[_Step]:
    """A path as steps; the first may be the path's root type, which the caller drops."""
    if isinstance(node, _Identifier):
        return [_Child(node.name)]
    if isinstance(node, _Member):
        return [*_steps(node.target), _Child(node.name)]
    if isinstance(node, _Indexer) and isinstance(node.index, _Literal) and type(node.index.value) is int:
        return [*_steps(node.target), _Pick(node.index.value)]
    if isinstance(node, _Function):
        return [*(_steps(node.target) if node.target is not None else []), _function_step(node)]
    if isinstance(node, _Binary) and node.operator == "as" and isinstance(node.right, _Identifier):
        return [*_steps(node.left), _Cast(node.right.name)]
    raise _NotCompiledError(f"Not compiled: {type(node).__name__}")


def _function_step(function: _Function) -> _Step:
    arguments = function.arguments
    if function.name == "where" and len(arguments) == 1:
        return _Filter(arguments[0])
    if function.name in ("as", "ofType") and len(arguments) == 1 and isinstance(arguments[0], _Identifier):
        return _Cast(arguments[0].name)
    if (
        function.name == "extension"
        and len(arguments) == 1
        and isinstance(arguments[0], _Literal)
        and isinstance(arguments[0].value, str)
    ):
        return _ExtensionStep(arguments[0].value)
    raise _NotCompiledError(f"Not compiled: {function.name}()")


def _compile_steps(steps: Sequence[_Step], current: str, terminal: _Terminal) -> _Runner:
    """The runner for `steps` applied to nodes of FHIR type `current`."""
    if not steps:
        return terminal(current)
    step, rest = steps[0], steps[1:]
    if isinstance(step, _Child):
        return _compile_child(step.name, rest, current, terminal)
    if isinstance(step, _Cast):
        if _cast_matches(step.type_name, current):
            return _compile_steps(rest, current, terminal)
        return _nothing
    if isinstance(step, _Filter):
        return _filter(_compile_condition(step.condition, current), _compile_steps(rest, current, terminal))
    if isinstance(step, _ExtensionStep):
        if element_type(current, "extension") is None:
            raise _NotCompiledError(f"extension() on {current}")
        return _extension(step.url, _compile_steps(rest, "Extension", terminal))
    return _pick(step.index, _compile_steps(rest, current, terminal))


# FHIRPath's own types, which FHIR's primitives stand for: `value.as(DateTime)` in the composite
# Observation-code-value-date means a dateTime (fhirpathpy matches nothing there).
_SYSTEM_TYPES = {
    "Boolean": ("boolean",),
    "String": ("string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary"),
    "Integer": ("integer", "positiveInt", "unsignedInt"),
    "Decimal": ("decimal",),
    "Date": ("date",),
    "DateTime": ("dateTime", "instant"),
    "Time": ("time",),
}


def _cast_matches(wanted: str, actual: str) -> bool:
    """Whether a node of static type `actual` passes `as wanted`: subtypes included (an Age is a Quantity)."""
    if actual == "Resource" or not (type_ancestors(wanted) or wanted in _SYSTEM_TYPES):
        # Any resource type may stand there; an unknown type name is likely a typo: leave both to fhirpathpy.
        raise _NotCompiledError(f"as {wanted} on {actual}")
    return wanted in type_ancestors(actual) or actual in _SYSTEM_TYPES.get(wanted, ())


def _compile_child(name: str, rest: Sequence[_Step], current: str, terminal: _Terminal) -> _Runner:
    found = element_type(current, name)
    if found is not None:
        # This element and those after it that are elements too (not choices, casts...): one runner.
        keys = []
        while True:
            type_name, repeats = found
            nullable = repeats and type_name[:1].islower()  # primitive arrays hold null where only `_x` has data
            keys.append((name, nullable))
            if not rest or not isinstance(rest[0], _Child) or (found := element_type(type_name, rest[0].name)) is None:
                return _children(tuple(keys), _compile_steps(rest, type_name, terminal))
            name, rest = rest[0].name, rest[1:]
    variants = choice_types(current, name)
    if not variants:
        raise _NotCompiledError(f"{current} has no element {name}")
    if rest and isinstance(rest[0], _Cast):
        wanted = rest[0].type_name
        variants = {key: type_name for key, type_name in variants.items() if _cast_matches(wanted, type_name)}
        rest = rest[1:]
    if len(variants) > 1 and any(isinstance(step, _Pick) for step in rest):
        raise _NotCompiledError("An indexer after a choice element without a cast")
    return _fork(
        [_children(((key, False),), _compile_steps(rest, type_name, terminal)) for key, type_name in variants.items()]
    )


def _compile_condition(node: _Node, current: str) -> _Condition:
    """The `where` criteria compiled: `path = 'literal'`, `resolve() is Type`, joined by `and`."""
    if isinstance(node, _Binary) and node.operator == "and":
        return _both(_compile_condition(node.left, current), _compile_condition(node.right, current))
    if (
        isinstance(node, _Binary)
        and node.operator == "="
        and isinstance(node.right, _Literal)
        and isinstance(node.right.value, str | bool)
    ):
        steps = _steps(node.left)
        if isinstance(steps[0], _Child) and _is_type_name(steps[0].name):
            raise _NotCompiledError(f"A type inside where(): {steps[0].name}")
        return _equals(_compile_steps(steps, current, _untyped), node.right.value)
    if (
        isinstance(node, _Binary)
        and node.operator == "is"
        and isinstance(node.left, _Function)
        and (node.left.target, node.left.name, node.left.arguments) == (None, "resolve", ())
        and isinstance(node.right, _Identifier)
        and current == "Reference"
    ):
        return _resolves_to(node.right.name)
    raise _NotCompiledError("Not compiled: this where() criterion")


def _compile_part(part: _Node, resource_type: str) -> _Runner:
    return _compile_steps(_resource_steps(part), resource_type, _typed)


def _resource_steps(part: _Node) -> list[_Step]:
    """A part's steps from the resource on: its root type, which `_applies` matched, dropped."""
    steps = _steps(part)
    first = steps[0]
    if isinstance(first, _Child) and _is_type_name(first.name):
        return steps[1:]
    return steps


# ---------------------------------------------------------------------------------------------
# Runners. Each builds one list per step and stops as soon as nothing is left.


def _nothing(nodes: list[Any], resource: dict[str, Any]) -> list[Any]:
    return []


def _untyped(type_name: str) -> _Runner:
    """The end of a path inside a `where` criterion: only the values matter."""
    return lambda nodes, resource: nodes


def _typed(type_name: str) -> _Runner:
    """The end of a path: its nodes with their type; a node typed only as Resource carries its own."""
    if type_name == "Resource":
        return lambda nodes, resource: [(node["resourceType"], [node]) for node in nodes]
    return lambda nodes, resource: [(type_name, nodes)]


def _children(keys: tuple[tuple[str, bool], ...], then: _Runner) -> _Runner:
    """`.key1.key2...` (each key with whether its values may be null): a list value flattens into the
    collection, a missing key adds nothing. Several steps in one runner: a call less for each."""

    def run(nodes: list[Any], resource: dict[str, Any]) -> list[Any]:
        for key, nullable in keys:
            found: list[Any]
            if len(nodes) == 1:  # most steps, all first ones (from the resource), start from one node: no loop
                value = nodes[0].get(key)
                if value is None:
                    return []
                found = list(value) if value.__class__ is list else [value]
            else:
                found = []
                for node in nodes:
                    value = node.get(key)
                    if value is None:
                        continue
                    if value.__class__ is list:
                        found.extend(value)
                    else:
                        found.append(value)
            if nullable and None in found:
                found = [value for value in found if value is not None]
            if not found:
                return found
            nodes = found
        return then(nodes, resource)

    return run


def _fork(branches: list[_Runner]) -> _Runner:
    """The variants of a choice element, each its own typed chain, one after another."""
    if len(branches) == 1:
        return branches[0]
    if not branches:
        return _nothing

    def run(nodes: list[Any], resource: dict[str, Any]) -> list[Any]:
        found: list[Any] = []
        for branch in branches:
            found += branch(nodes, resource)
        return found

    return run


def _filter(condition: _Condition, then: _Runner) -> _Runner:
    def run(nodes: list[Any], resource: dict[str, Any]) -> list[Any]:
        kept = [node for node in nodes if condition(node, resource)]
        return then(kept, resource) if kept else kept

    return run


def _extension(url: str, then: _Runner) -> _Runner:
    def run(nodes: list[Any], resource: dict[str, Any]) -> list[Any]:
        found = [extension for node in nodes for extension in node.get("extension", ()) if extension.get("url") == url]
        return then(found, resource) if found else found

    return run


def _pick(index: int, then: _Runner) -> _Runner:
    """`[index]` over the whole collection reached so far, as FHIRPath indexes."""

    def run(nodes: list[Any], resource: dict[str, Any]) -> list[Any]:
        return then(nodes[index : index + 1], resource) if len(nodes) > index else []

    return run


def _both(first: _Condition, second: _Condition) -> _Condition:
    return lambda node, resource: first(node, resource) and second(node, resource)


def _equals(path: _Runner, literal: str | bool) -> _Condition:
    """FHIRPath `=` against a literal: true only for exactly one equal value (empty or several: not true)."""
    kind = literal.__class__

    def test(node: Any, resource: dict[str, Any]) -> bool:
        values = path([node], resource)
        return len(values) == 1 and values[0].__class__ is kind and values[0] == literal

    return test


def _resolves_to(type_name: str) -> _Condition:
    """`resolve() is Type`, decided from the reference alone: its type segment, or the contained resource."""

    def test(reference: Any, resource: dict[str, Any]) -> bool:
        target = _reference_target(reference, resource)
        return target is not None and target.get("resourceType") == type_name

    return test


def _reference_target(reference: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any] | None:
    """What a Reference resolves to without a lookup: a contained resource, the container (`#`), or a
    stand-in `{resourceType, id}` read off `Type/id`, `Type/id/_history/v` or an absolute URL ending so.
    None for what names no type (urn:uuid:, conditional references, identifier-only references).
    """
    target = reference.get("reference")
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        if target == "#":
            return resource
        return next(
            (contained for contained in resource.get("contained", ()) if contained.get("id") == target[1:]), None
        )
    named = named_target(target)
    return None if named is None else {"resourceType": named[0], "id": named[1]}


def _distinct(found: list[TypedNodes]) -> list[TypedNodes]:
    """FHIRPath's union drops duplicates, across and within its parts (each run keeps its nodes not seen before).

    Primitives go through a set (a ValueSet's union of codes runs to thousands); objects, rarely
    more than a few, are compared with each other: Python's equality first, which `_same` implies and
    which tells two different objects apart in C (`node in seen`: a resource's identifiers are compared
    pairwise in one call, and only an equal pair is looked at further).
    """
    if len(found) < 2 and (not found or len(found[0][1]) < 2):
        return found
    unique: list[TypedNodes] = []
    primitives: set[tuple[str, type, Any]] = set()
    objects: list[tuple[str, Any]] = []
    seen = []  # the objects' nodes
    for type_name, nodes in found:
        kept = []
        for node in nodes:
            if node.__class__ is dict:
                if node in seen and any(
                    other == node and type_name == other_type and _same(node, other) for other_type, other in objects
                ):
                    continue
                objects.append((type_name, node))
                seen.append(node)
            else:
                # The class keeps 1 and true apart; a decimal's text keeps 1.0 and 1.00 apart.
                key = (type_name, node.__class__, str(node) if node.__class__ is Decimal else node)
                if key in primitives:
                    continue
                primitives.add(key)
            kept.append(node)
        if kept:
            unique.append((type_name, kept))
    return unique


def _same(first: Any, second: Any) -> bool:
    """JSON equality that keeps 1.0 and 1.00 apart (and 1 and true): search reads precision off decimals."""
    if first is second:
        return True
    if first.__class__ is not second.__class__:
        return False
    if first.__class__ is dict:
        return bool(first.keys() == second.keys()) and all(_same(value, second[key]) for key, value in first.items())
    if first.__class__ is list:
        return len(first) == len(second) and all(map(_same, first, second))
    if first.__class__ is Decimal:
        return str(first) == str(second)
    return bool(first == second)


# ---------------------------------------------------------------------------------------------
# Whole expressions, native or through fhirpathpy.


@dataclass(frozen=True)
class _Compiled:
    run: GroupedEvaluator
    evaluate: _Evaluation
    native: bool
    reads: frozenset[str] | None = None  # see resource_keys

    @classmethod
    def natively(cls, run: GroupedEvaluator, reads: frozenset[str] | None) -> _Compiled:
        """Compiled runners read the node itself where no resource is given."""
        return cls(run, lambda node, resource: run([node], node if resource is None else resource), True, reads)

    @classmethod
    def interpreted(cls, evaluate: _Evaluation) -> _Compiled:
        return cls(lambda nodes, resource: evaluate(nodes[0], resource), evaluate, native=False)


@functools.cache
def _parse(expression: str) -> _Node:
    """Parsed once: the long shared expressions (`AllergyIntolerance.code | Condition.code | ...`) are
    compiled for each of many types. The tree is immutable, so the types share it."""
    return _Parser(expression).parse()


@functools.cache
def _compile(expression: str, context_type: str) -> _Compiled:
    try:
        tree = _parse(expression)
    except _NotCompiledError:
        return _Compiled.interpreted(_fallback(expression))
    parts = [part for part in _union_parts(tree) if _applies(part, context_type)]
    try:
        runners = [_compile_part(part, context_type) for part in parts]
    except _NotCompiledError:
        return _Compiled.interpreted(_fallback(_fallback_text(expression, parts, context_type)))
    run = _native(runners, union=isinstance(tree, _Binary) and tree.operator == "|")
    return _Compiled.natively(run, _union_reads(parts, context_type))


def _union_reads(parts: list[_Node], context_type: str) -> frozenset[str] | None:
    """What resource_keys tells, for compiled union parts (no part at all reads nothing)."""
    keys: set[str] = set()
    for part in parts:
        part_keys = _part_reads(_resource_steps(part), context_type)
        if part_keys is None:
            return None
        keys |= part_keys
    return frozenset(keys)


def _part_reads(steps: list[_Step], context_type: str) -> frozenset[str] | None:
    """The keys a compiled path's first step reads: the element's, each variant's of a choice, `extension`."""
    first = steps[0] if steps else None
    if isinstance(first, _Child):
        if element_type(context_type, first.name) is not None:
            return frozenset({first.name})
        return frozenset(choice_types(context_type, first.name))
    if isinstance(first, _ExtensionStep):
        return frozenset({"extension"})
    return None


def _native(runners: list[_Runner], *, union: bool) -> GroupedEvaluator:
    if not runners:
        return _nothing
    if len(runners) == 1:  # a path, or the one part of a union that applies to the type (as most do)
        (runner,) = runners
        return (lambda nodes, resource: _distinct(runner(nodes, resource))) if union else runner

    def evaluate(nodes: list[Any], resource: dict[str, Any]) -> list[TypedNodes]:
        values = []
        for runner in runners:
            values += runner(nodes, resource)
        return _distinct(values)

    return evaluate


def _fallback_text(expression: str, parts: list[_Node], resource_type: str) -> str:
    """The applicable parts' source, their roots at an ancestor (Resource.id) renamed to the type itself:
    fhirpathpy reads `Resource` as a type only when the resource's own type is exactly that."""
    ancestors = _ancestors(resource_type)[1:]
    texts = []
    for part in parts:
        start, end = part.span
        text = expression[start:end]
        for root in reversed(_path_roots(part)):
            if root.name in ancestors:
                text = text[: root.span[0] - start] + resource_type + text[root.span[1] - start :]
        texts.append(text)
    return " | ".join(texts)


_RESOLVING_IN: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("fhirpath_resolving_in")


def _fallback(expression: str) -> _Evaluation:
    """fhirpathpy for what is not compiled: slower, but right. `%resource` is the resource, and
    `resolve()` gives what `_reference_target` does (contained resources, or type-and-id stand-ins)."""
    options = {"returnRawData": True, "userInvocationTable": {"resolve": {"fn": _resolve_for_fhirpathpy}}}
    interpreted = fhirpathpy.compile(expression, fhirpathpy_models["r4"], options)

    def evaluate(node: Any, resource: dict[str, Any] | None) -> list[TypedNodes]:
        token = _RESOLVING_IN.set(node if resource is None else resource)
        try:
            variables = None if resource is None else {"resource": resource}
            return [_interpreted_value(item) for item in interpreted(node, variables)]
        finally:
            _RESOLVING_IN.reset(token)

    return evaluate


def _resolve_for_fhirpathpy(references: list[Any]) -> list[ResourceNode]:
    resource = _RESOLVING_IN.get()
    targets = [_reference_target(reference, resource) for reference in references if isinstance(reference, dict)]
    # A node, not a dict: fhirpathpy reads a node's type (for `is`) from it.
    return [ResourceNode.create_node(target) for target in targets if target is not None]  # type: ignore[no-untyped-call]


def _interpreted_value(item: Any) -> TypedNodes:
    """A fhirpathpy result typed: by the element it came from where fhirpathpy knows it, else by shape."""
    if isinstance(item, ResourceNode):
        type_name = _path_type(item.path) if isinstance(item.path, str) else None
        return type_name or _shape_type(item.data), [item.data]
    if isinstance(item, FP_Quantity):
        return "Quantity", [{"value": item.value, "unit": item.unit}]
    if isinstance(item, FP_DateTime | FP_Time):
        return "dateTime" if isinstance(item, FP_DateTime) else "time", [str(item)]
    return _shape_type(item), [item]


def _path_type(path: str) -> str | None:
    """fhirpathpy's node path is a FHIR type name, or for a backbone element the element's path."""
    if path.startswith("System."):
        return None
    type_name, *elements = path.split(".")
    for element in elements:
        found = element_type(type_name, element)
        if found is None:
            return None
        type_name = found[0]
    return type_name


def _shape_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return str(value["resourceType"])
    return "Element"
