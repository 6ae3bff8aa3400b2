"""Match criteria for conditional create, update and references (`Type?identifier=sys|val`).

Until the search engine lands (its own issue) conditional operations understand the parameters a
sender uses to say "this record": `_id` and `identifier`. Anything else is refused, never ignored,
because ignoring a criterion would make a conditional write hit the wrong resource.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.db.models import Q

from core.outcome import not_supported

SUPPORTED_PARAMETERS = ("_id", "identifier")


def criteria_filter(query: str) -> Q:
    """A Q over Resource for a query string; parameters AND together, comma values OR."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        raise not_supported("Conditional criteria are empty; give at least one of _id or identifier.")
    combined = Q()
    for name, value in pairs:
        if name not in SUPPORTED_PARAMETERS:
            raise not_supported(
                f"Conditional criteria on '{name}' are not supported; use {' or '.join(SUPPORTED_PARAMETERS)}."
            )
        alternatives = Q()
        for option in _split_unescaped(value, ","):
            alternatives |= _id_filter(option) if name == "_id" else _identifier_filter(option)
        combined &= alternatives
    return combined


def _id_filter(value: str) -> Q:
    return Q(logical_id=value)


def _identifier_filter(token: str) -> Q:
    """identifier=[system]|[value] by JSON containment (covered by the identifier GIN index)."""
    parts = _split_unescaped(token, "|")
    if len(parts) == 1:
        wanted = {"value": parts[0]}
    elif len(parts) == 2 and parts[0] and parts[1]:
        wanted = {"system": parts[0], "value": parts[1]}
    elif len(parts) == 2 and parts[0]:
        wanted = {"system": parts[0]}
    else:
        raise not_supported(f"identifier={token}: give system|value, system| or value.")
    # Most resources have identifier 0..*, a few (Bundle, QuestionnaireResponse...) 0..1.
    return Q(content__identifier__contains=[wanted]) | Q(content__identifier__contains=wanted)


def _split_unescaped(value: str, separator: str) -> list[str]:
    """Split on `separator` except where escaped with a backslash, then unescape."""
    parts, current, escaped = [], "", False
    for char in value:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts
