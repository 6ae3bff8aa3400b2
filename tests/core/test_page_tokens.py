"""Page tokens: what goes in comes out, and anything the server did not give out is refused as one error."""

from __future__ import annotations

from typing import Any

import pytest

from core import page_tokens


def test_a_token_gives_back_its_payload_and_is_safe_in_a_url():
    payload = {"k": ["2025-01-01T09:00:00+09:00", None, "鈴木"], "id": 42, "b": False}

    token = page_tokens.encode(payload)

    assert page_tokens.decode(token, lambda keys: keys) == payload
    assert token.isascii()
    assert not set(token) & set("+/=&?%")


def keys_of(payload: Any) -> tuple[str, int]:
    return payload["k"], int(payload["id"])


@pytest.mark.parametrize(
    "token",
    [
        "%%%",  # not base64
        page_tokens.encode(["no", "keys"])[:-3],  # cut short
        "bm90IGpzb24",  # base64 of "not json"
        page_tokens.encode([1, 2]),  # JSON of another shape
        page_tokens.encode({"k": "x"}),  # a key missing
        page_tokens.encode({"k": "x", "id": "seven"}),  # a value of the wrong kind
    ],
)
def test_anything_else_is_a_foreign_token(token):
    with pytest.raises(page_tokens.ForeignPageTokenError):
        page_tokens.decode(token, keys_of)
