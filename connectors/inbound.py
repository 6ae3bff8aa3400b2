"""The InboundMessage rows of a batch of kept messages, in one statement: the rows already there and the new
ones, so that receiving 100 SS-MIX2 files costs one round trip rather than a query, an INSERT and a re-read."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from connectors.models import InboundMessage, MessageStatus, SourceSystem

# `known` reads the rows before the INSERT (one snapshot), `fresh` adds the others, the first message of the
# same bytes naming its row; a row a parallel lane adds meanwhile is skipped here and read again after.
RECORD_MESSAGES = (
    "WITH kept AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]) WITH ORDINALITY "
    "AS k(origin, sha256, size, position)), "
    "known AS (SELECT * FROM connectors_inboundmessage WHERE source_id = %s AND sha256 IN (SELECT sha256 FROM kept)), "
    "fresh AS (INSERT INTO connectors_inboundmessage (source_id, sha256, origin, size, received_at, status, records, "
    "created, updated, unchanged, deleted, quarantined) "
    "SELECT DISTINCT ON (sha256) %s, sha256, origin, size, %s, %s, 0, 0, 0, 0, 0, 0 FROM kept "
    "WHERE sha256 NOT IN (SELECT sha256 FROM known) ORDER BY sha256, position "
    "ON CONFLICT (source_id, sha256) DO NOTHING RETURNING *) "
    "SELECT *, true AS is_new FROM fresh UNION ALL SELECT *, false AS is_new FROM known"
)


@dataclass(frozen=True)
class Kept:
    """A message whose raw bytes are kept: where it came from, its SHA-256 and size."""

    origin: str
    sha256: str
    size: int


def messages_record(*, source: SourceSystem, kept: list[Kept]) -> list[tuple[InboundMessage, bool]]:
    """Each kept message's row, created unless the source sent the same bytes before; per message, in order,
    the row and whether it is new. The caller's transaction commits the rows with the raw bytes."""
    if not kept:
        return []
    columns = [[item.origin for item in kept], [item.sha256 for item in kept], [item.size for item in kept]]
    params = [*columns, source.pk, source.pk, timezone.now(), MessageStatus.RECEIVED]
    found = list(InboundMessage.objects.raw(RECORD_MESSAGES, params))
    new = {row.sha256 for row in found if row.is_new}  # type: ignore[attr-defined]  # a column of the query
    rows = {row.sha256: row for row in found}
    missing = {item.sha256 for item in kept} - rows.keys()
    rows |= {row.sha256: row for row in InboundMessage.objects.filter(source=source, sha256__in=missing)}
    return [(rows[item.sha256], item.sha256 in new) for item in kept]
