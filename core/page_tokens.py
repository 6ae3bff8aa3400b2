"""Opaque page tokens: where a keyset-paged answer goes on, as a string a client hands back unread.

Each paged endpoint puts its own keys in the payload; this module is the one way they are written and read,
so a token that is not one the server gave out is refused the same way everywhere (the endpoint says how).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

Keys = TypeVar("Keys")


class ForeignPageTokenError(ValueError):
    """The token does not decode to a payload of the shape its endpoint gives out."""


def encode(payload: Any) -> str:
    """`payload` (anything JSON can hold) as URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, read: Callable[[Any], Keys]) -> Keys:
    """The keys `read` takes out of the token's payload. Whatever is amiss on the way (not base64, not JSON, a
    key missing, a value of the wrong type, which `read` finds by failing) raises ForeignPageTokenError."""
    try:
        return read(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise ForeignPageTokenError(token) from error
