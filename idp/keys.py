"""The provider's RS256 signing key: IDP_RSA_PRIVATE_KEY when set, else one made once and kept in the data folder."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def signing_key(data_dir: Path) -> str:
    configured = os.environ.get("IDP_RSA_PRIVATE_KEY", "")
    if configured:
        return configured
    path = data_dir / "signing-key.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
    return path.read_text(encoding="ascii")
