"""Load the sample data (Synthea patients, and a generated region's FHIR-native clinic) into the store;
safe to run again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.contracts import AccessContext
from core import fhir_json
from core.outcome import FhirError
from core.progress import progress_end, progress_show
from federation.identity.linking import identity_link_all
from federation.storage.bundles import bundle_process

SAMPLE_DIR = Path(settings.BASE_DIR) / "fixtures" / "synthea_r4"


class Command(BaseCommand):
    help = (
        "Load the synthetic sample bundles (fixtures/synthea_r4), and with --region DIR the FHIR-native clinic "
        "of a region made by generate_region, as transactions; re-running changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000/fhir", help="printed links start here")
        parser.add_argument("--region", type=Path, help="a generate_region folder: load its FHIR clinic bundles")

    def handle(self, *args: Any, base_url: str, region: Path | None, **options: Any) -> None:
        files = sorted(SAMPLE_DIR.glob("*.json"))
        if not files:
            raise CommandError(f"No sample bundles in {SAMPLE_DIR}.")
        bundles = [(path, as_idempotent_transaction(fhir_json.loads(path.read_bytes()))) for path in files]
        patients = self._load(bundles, base_url, verbose=True)
        for patient in patients:
            self.stdout.write(f"  {base_url}/{patient}?_pretty=true")
        if region is not None:
            region_bundles = list(_region_fhir_bundles(region))
            region_patients = self._load(region_bundles, base_url, verbose=False, progress=True)
            self.stdout.write(f"{region}: {len(region_bundles)} FHIR clinic bundles, {len(region_patients)} patients")
            for patient in region_patients[:5]:
                self.stdout.write(f"  {base_url}/{patient}?_pretty=true")
        linked = identity_link_all()
        self.stdout.write(f"persons: {linked.new_persons} new, {linked.linked} records linked to a known person")

    def _load(
        self, bundles: list[tuple[Path, dict[str, Any]]], base_url: str, *, verbose: bool, progress: bool = False
    ) -> list[str]:
        access = AccessContext.system(reason="sample-data")
        patients: list[str] = []
        for number, (path, bundle) in enumerate(bundles, start=1):
            try:
                response = bundle_process(access=access, bundle=bundle, include_resources=False, base_url=base_url)
            except FhirError as error:
                raise CommandError(f"{path.name}: {error}") from error
            statuses = [entry["response"]["status"] for entry in response["entry"]]
            if verbose:
                created = sum(status.startswith("201") for status in statuses)
                self.stdout.write(f"[{number}/{len(bundles)}] {path.name}: {len(statuses)} entries, {created} new")
            if progress:
                progress_show(number, len(bundles), unit="bundles")
            patients += [
                entry["response"]["location"].split("/_history")[0]
                for entry in response["entry"]
                if entry["response"]["location"].startswith("Patient/")
            ]
        if progress and bundles:
            progress_end()
        return patients


def _region_fhir_bundles(region: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The transaction Bundles of every `fhir` source listed in the region's sources.json."""
    try:
        sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    except (OSError, ValueError, KeyError) as error:
        raise CommandError(f"{region} is not a generated region: {error}") from error
    for source in sources:
        if source["kind"] == "fhir":
            for path in sorted((region / source["path"]).glob("*.json")):
                yield path, fhir_json.loads(path.read_bytes())


def as_idempotent_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """Turn each `POST Type` into `PUT Type/<resource id>`, so a second load is a no-op update."""
    entries = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        entries.append({**entry, "request": request})
    return {**bundle, "entry": entries}
