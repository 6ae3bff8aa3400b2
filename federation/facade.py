"""What other apps may ask of federation (with federation.contracts, the only modules they may import)."""

from __future__ import annotations

from federation.ingest.records import organization_ensure, provenance_entry, records_ingest

__all__ = ["organization_ensure", "provenance_entry", "records_ingest"]
