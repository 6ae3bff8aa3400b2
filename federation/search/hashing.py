"""64-bit hashes of index keys: compact, fixed-width B-tree keys for parameters, systems and codes."""

from __future__ import annotations

import hashlib
import struct

# Copied for each hash: a third faster than making one with its digest size (hashed about a dozen times for
# every resource written).
_BLAKE2B_8 = hashlib.blake2b(digest_size=8)
# The digest read as a big-endian signed 64-bit integer, as int.from_bytes(digest, "big", signed=True) reads
# it, in half the time.
_SIGNED_64 = struct.Struct(">q").unpack


def hash64(*parts: str) -> int:
    """A signed 64-bit hash of the parts (separated, so ("a", "bc") differs from ("ab", "c"))."""
    hasher = _BLAKE2B_8.copy()
    hasher.update("\x1f".join(parts).encode())
    value: int = _SIGNED_64(hasher.digest())[0]
    return value
