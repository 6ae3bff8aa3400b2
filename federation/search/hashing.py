"""64-bit hashes of index keys: compact, fixed-width B-tree keys for parameters, systems and codes."""

from __future__ import annotations

import hashlib

# Copied for each hash: a third faster than making one with its digest size (hashed about a dozen times for
# every resource written).
_BLAKE2B_8 = hashlib.blake2b(digest_size=8)


def hash64(*parts: str) -> int:
    """A signed 64-bit hash of the parts (separated, so ("a", "bc") differs from ("ab", "c"))."""
    hasher = _BLAKE2B_8.copy()
    hasher.update("\x1f".join(parts).encode())
    return int.from_bytes(hasher.digest(), "big", signed=True)
