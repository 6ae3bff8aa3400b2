"""Load the sample data set (synthetic Synthea patients) into the store; safe to run again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.contracts import AccessContext
from core import fhir_json
from core.outcome import FhirError
from federation.storage.bundles import bundle_process

SAMPLE_DIR = Path(settings.BASE_DIR) / "fixtures" / "synthea_r4"


class Command(BaseCommand):
    help = "Load the synthetic sample bundles (fixtures/synthea_r4) as transactions; re-running changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000/fhir", help="printed links start here")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        files = sorted(SAMPLE_DIR.glob("*.json"))
        if not files:
            raise CommandError(f"No sample bundles in {SAMPLE_DIR}.")
        access = AccessContext.system(purpose="sample-data")
        patients: list[str] = []
        for number, path in enumerate(files, start=1):
            bundle = as_idempotent_transaction(fhir_json.loads(path.read_bytes()))
            try:
                response = bundle_process(access=access, bundle=bundle, include_resources=False, base_url=base_url)
            except FhirError as error:
                raise CommandError(f"{path.name}: {error}") from error
            statuses = [entry["response"]["status"] for entry in response["entry"]]
            created = sum(status.startswith("201") for status in statuses)
            self.stdout.write(f"[{number}/{len(files)}] {path.name}: {len(statuses)} entries, {created} new")
            patients += [
                entry["response"]["location"].split("/_history")[0]
                for entry in response["entry"]
                if entry["response"]["location"].startswith("Patient/")
            ]
        for patient in patients:
            self.stdout.write(f"  {base_url}/{patient}?_pretty=true")


def as_idempotent_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """Turn each `POST Type` into `PUT Type/<resource id>`, so a second load is a no-op update."""
    entries = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        entries.append({**entry, "request": request})
    return {**bundle, "entry": entries}
