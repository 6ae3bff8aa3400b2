"""Store connector records (small transactions), batched, and per message the Provenance of what they wrote."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, transaction

from consent.contracts import AccessContext
from core.instant import format_instant
from core.outcome import FhirError, conflict
from core.references import Located
from federation.contracts import IngestCounts
from federation.ingest.labels import resource_label
from federation.storage import services
from federation.storage.batch import (
    BatchConflictError,
    EntryOutcome,
    FollowUp,
    RecordOutcome,
    Records,
    records_apply,
)
from federation.storage.bundles import transaction_entries_apply

logger = logging.getLogger(__name__)

BATCH_ATTEMPTS = 3  # then the records run one by one
INBOUND_MESSAGE_SYSTEM = "https://tsunagi.example.jp/fhir/IdSystem/inbound-message"


Outcomes = list[IngestCounts | FhirError]


def records_ingest(
    *,
    access: AccessContext,
    records: Records,
    source_uri: str,
    then: Callable[[Outcomes], Records] | None = None,
    located: list[list[Located]] | None = None,
) -> Outcomes:
    """Store connector records, each a small transaction of entries: what each stored, or why it was refused.

    Each resource is labelled and stamped with its source first. The batch goes through the batch writer in
    one go; when it cannot take the batch (other criteria) or keeps colliding with another writer, the
    records run one at a time, each in its own savepoint. `then`, given what the records did, gives records
    the batch writer stores with them (their Provenance, see batch.records_apply): their outcomes follow the
    records'; on the one-at-a-time path it is not asked. `located`: each record's entries' references, if the
    caller located them already (see batch.records_apply); stamping moves none of them.
    """
    stamped = records_stamped(records, source_uri)
    follow_up = None if then is None else _stamping(then, source_uri)
    outcomes = _batch_apply(access, stamped, follow_up, located)
    if outcomes is not None:
        return _counted(outcomes)
    alone = [_record_apply_alone(access, entries) for entries in stamped]
    return [outcome if isinstance(outcome, FhirError) else _counts(outcome, placed=False) for outcome in alone]


def _stamping(then: Callable[[Outcomes], Records], source_uri: str) -> FollowUp:
    """`then` for the batch writer: it is given the batch's outcomes as counts, its records are stamped."""

    def follow_up(outcomes: list[RecordOutcome]) -> Records:
        return records_stamped(then(_counted(outcomes)), source_uri)

    return follow_up


def _batch_apply(
    access: AccessContext, records: Records, then: FollowUp | None, located: list[list[Located]] | None
) -> list[RecordOutcome] | None:
    """The batch writer's outcome; planned again when another writer got in between (it has committed by
    then, so the new plan sees its work); None when the batch is not for it or keeps colliding."""
    for _ in range(BATCH_ATTEMPTS):
        try:
            with transaction.atomic():
                return records_apply(access=access, records=records, then=then, located=located)
        except (BatchConflictError, IntegrityError, OperationalError) as error:
            logger.info(
                "ingest batch of %d records collided with another writer: %s", len(records), type(error).__name__
            )
    return None


def _record_apply_alone(access: AccessContext, entries: list[dict[str, Any]]) -> RecordOutcome:
    try:
        results = transaction_entries_apply(access=access, entries=entries)  # atomic: a savepoint
    except FhirError as error:
        return error
    except (IntegrityError, OperationalError) as error:  # e.g. a deadlock with another ingest process
        return conflict(409, f"another writer changed the same resources at the same time ({type(error).__name__})")
    methods = [str(entry["request"]["method"]).upper() for entry in entries]
    return [
        EntryOutcome(method, None)
        if result is None
        else EntryOutcome(method, result.version.version_url, created=result.created, changed=result.changed)
        for method, result in zip(methods, results, strict=True)
    ]


def _counted(outcomes: list[RecordOutcome]) -> Outcomes:
    return [outcome if isinstance(outcome, FhirError) else _counts(outcome) for outcome in outcomes]


def _counts(outcomes: list[EntryOutcome], *, placed: bool = True) -> IngestCounts:
    """The counts of a record's entries; with their Patients when the writer `placed` the versions (the batch
    writer does, the one-by-one path does not)."""
    counts = IngestCounts(patients=set() if placed else None)
    for outcome in outcomes:
        if outcome.version_url is None:
            continue
        if outcome.method == "DELETE":
            counts.deleted += outcome.changed
        elif outcome.created:
            counts.created += 1
        elif outcome.changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if outcome.changed and outcome.method != "DELETE":
            counts.targets.append(outcome.version_url)
            if counts.patients is not None and outcome.patients:
                counts.patients.update(outcome.patients)
    return counts


def records_stamped(records: Records, source_uri: str) -> Records:
    """The records with each resource labelled (federation.ingest.labels) and its meta.source set: new objects
    down to each resource's meta, the rest shared, so that no reference moves."""
    return [[_stamped(entry, source_uri) for entry in entries] for entries in records]


def _stamped(entry: dict[str, Any], source_uri: str) -> dict[str, Any]:
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return entry
    meta = {**(resource.get("meta") or {}), "source": source_uri}
    return {**entry, "resource": resource_label({**resource, "meta": meta})}


def provenance_entry(
    *, targets: list[str], organization: str, messages: list[tuple[str, str]], recorded: datetime
) -> dict[str, Any]:
    """The entry creating a Provenance for what messages wrote: the source organisation as agent, each raw
    message (its sha256 and where it came from) as an entity. Stored like a record, it gets its meta.source
    there."""
    provenance = {
        "resourceType": "Provenance",
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
                "what": {"identifier": {"system": INBOUND_MESSAGE_SYSTEM, "value": sha256}, "display": origin},
            }
            for sha256, origin in messages
        ],
    }
    return {"resource": provenance, "request": {"method": "POST", "url": "Provenance"}}


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
