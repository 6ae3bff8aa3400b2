"""How a uri search value matches a stored URI, whichever column or expression holds it (an index row's `uri`,
a resource's meta.source): equal; `:below`, the search URI or one under it by path segments (JP_Patient_Extra is
not below JP_Patient); `:above`, the search URI or one of its parents."""

from __future__ import annotations

from django.db.models import Expression, F, Q
from django.db.models.lookups import Exact, In, StartsWith


def uri_match(stored: Expression | F, modifier: str | None, uri: str) -> Q:
    """Rows whose `stored` URI matches the (unescaped) search `uri` under `modifier`."""
    if modifier == "below":
        return Q(Exact(stored, uri)) | Q(StartsWith(stored, uri_parent(uri)))
    if modifier == "above":
        return Q(In(stored, uri_prefixes_above(uri)))
    return Q(Exact(stored, uri))


def uri_parent(uri: str) -> str:
    """What a URI below this one by path segments starts with."""
    return uri.rstrip("/") + "/"


def uri_prefixes_above(uri: str) -> list[str]:
    """The URIs a uri `:above` search matches: this one and its parents, cut at each '/'."""
    text = uri.rstrip("/")
    return [text[:index] for index in range(len(text), 0, -1) if index == len(text) or text[index] == "/"]
