"""Round-trip helpers for the FHIR specification's example resources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "fhir_r4_examples"
PACKAGE = "hl7.fhir.r4.examples@4.0.1"
CACHE = Path(__file__).resolve().parent.parent.parent / ".local" / "cache" / "hl7.fhir.r4.examples"

# Examples in the R4 package that are not valid R4 themselves (checked by hand; see fixtures README).
INVALID_EXAMPLES = {
    "CodeSystem-v2-0550.json": "four codes hold a no-break space, which the code pattern forbids",
    "Bundle-v2-valuesets.json": "holds CodeSystem v2-0550 (above)",
    "ImplementationGuide-fhir.json": "name and status are missing",
    "ig-r4.json": "name and status are missing",
    "Questionnaire-qs1.json": "nested items lack linkId",
}
INVALID_PREFIXES = {
    "SearchParameter-": "some extension SearchParameters lack base",
}


def exact_json(raw: bytes | str) -> Any:
    """Parse JSON keeping numbers exact, so 1.50 and 1.5 compare equal but 0.1 and 0.10000001 do not."""
    return json.loads(raw, parse_float=Decimal, parse_int=Decimal)


def without_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    meta = {key: value for key, value in resource.get("meta", {}).items() if key not in ("versionId", "lastUpdated")}
    trimmed = {key: value for key, value in resource.items() if key != "meta"}
    if meta:
        trimmed["meta"] = meta
    return trimmed


def round_trip(fhir: Any, path: Path) -> tuple[int, str]:
    """PUT (or POST, without an id) one example and read it back: (status, problem or '')."""
    raw = path.read_bytes()
    sent = exact_json(raw)
    resource_type, logical_id = sent["resourceType"], sent.get("id")
    if logical_id:
        response = fhir.put(f"/fhir/{resource_type}/{logical_id}", raw)
    else:
        response = fhir.post(f"/fhir/{resource_type}", raw)
    if response.status_code not in (200, 201):
        return response.status_code, response.content.decode()[:500]
    location = response["Location"].split("/fhir/")[1].split("/_history")[0] if not logical_id else None
    read = fhir.get(f"/fhir/{location or f'{resource_type}/{logical_id}'}")
    stored = exact_json(read.content)
    if not logical_id:
        stored.pop("id")
    if without_server_meta(stored) != without_server_meta(sent):
        return read.status_code, "read back differs from what was sent"
    return read.status_code, ""


def full_package() -> Path | None:
    """The whole R4 examples package: $TSUNAGI_R4_EXAMPLES, the cache, or fetched with npm."""
    configured = os.environ.get("TSUNAGI_R4_EXAMPLES")
    if configured:
        return Path(configured)
    if (CACHE / "package").is_dir():
        return CACHE / "package"
    npm = shutil.which("npm")
    if npm is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        packed = subprocess.run(
            [npm, "pack", PACKAGE, "--silent"], cwd=CACHE, capture_output=True, text=True, timeout=300, check=True
        )
        subprocess.run(["tar", "xzf", packed.stdout.strip()], cwd=CACHE, check=True, timeout=300)
    except (subprocess.SubprocessError, OSError):
        return None
    return CACHE / "package"


def refused_by_consent_policy(name: str, status: int, problem: str) -> bool:
    """A Consent example the consent policy cannot read (most lack provision.type or use provision.data) is
    refused at write with an OperationOutcome rather than stored to be ignored (docs/consent.md)."""
    return name.startswith("Consent-") and status == 400 and "Consent." in problem


def expected_invalid(name: str) -> bool:
    return name in INVALID_EXAMPLES or any(name.startswith(prefix) for prefix in INVALID_PREFIXES)
