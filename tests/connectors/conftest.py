"""Each test gets its own raw store."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def raw_store(settings, tmp_path):
    settings.RAW_STORE_DIR = tmp_path / "raw"
    return settings.RAW_STORE_DIR
