"""64-bit hashes of index keys: compact, fixed-width B-tree keys for parameters, systems and codes."""

from __future__ import annotations

import hashlib


def hash64(*parts: str) -> int:
    """A signed 64-bit hash of the parts (separated, so ("a", "bc") differs from ("ab", "c"))."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
