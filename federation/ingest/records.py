"""Store one connector record (a small transaction) and, per message, the Provenance of what it wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consent.contracts import AccessContext
from core.instant import format_instant
from federation.contracts import IngestCounts
from federation.ingest.labels import resource_label
from federation.storage import services
from federation.storage.bundles import transaction_entries_apply

INBOUND_MESSAGE_SYSTEM = "https://tsunagi.example.jp/fhir/IdSystem/inbound-message"


def record_ingest(*, access: AccessContext, entries: list[dict[str, Any]], source_uri: str) -> IngestCounts:
    """Label and stamp each resource with its source, then run the entries as one transaction."""
    stamped = [_stamped(entry, source_uri) for entry in entries]
    results = transaction_entries_apply(access=access, entries=stamped)
    counts = IngestCounts()
    for entry, result in zip(stamped, results, strict=True):
        method = str(entry.get("request", {}).get("method", "")).upper()
        if result is None:
            continue
        if method == "DELETE":
            counts.deleted += result.changed
        elif result.created:
            counts.created += 1
        elif result.changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if result.changed and method != "DELETE":
            counts.targets.append(result.version.version_url)
    return counts


def _stamped(entry: dict[str, Any], source_uri: str) -> dict[str, Any]:
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return entry
    meta = {**(resource.get("meta") or {}), "source": source_uri}
    return {**entry, "resource": resource_label({**resource, "meta": meta})}


def provenance_record(
    *,
    access: AccessContext,
    targets: list[str],
    organization: str,
    message_sha256: str,
    message_origin: str,
    recorded: datetime,
    source_uri: str,
) -> str:
    """A Provenance for what one message wrote: the source organisation as agent, the raw message as entity."""
    provenance = {
        "resourceType": "Provenance",
        "meta": {"source": source_uri},
        "target": [{"reference": target} for target in targets],
        "recorded": format_instant(recorded),
        "activity": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": "CREATE",
                    "display": "create",
                }
            ]
        },
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                        }
                    ]
                },
                "who": {"reference": organization},
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": INBOUND_MESSAGE_SYSTEM, "value": message_sha256},
                    "display": message_origin,
                },
            }
        ],
    }
    return services.resource_create(access=access, resource=provenance).version.relative_url


def organization_ensure(*, access: AccessContext, name: str, system: str, value: str) -> str:
    """The Organization a source speaks for, created once (found again by its identifier)."""
    organization = {
        "resourceType": "Organization",
        "identifier": [{"system": system, "value": value}],
        "name": name,
        "active": True,
    }
    result = services.resource_create_conditional(
        access=access, resource=organization, criteria=f"identifier={system}|{value}", expected_type="Organization"
    )
    return result.version.relative_url
