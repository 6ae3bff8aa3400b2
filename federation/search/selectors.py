"""The one read path: every read of stored resources goes through here with an access context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from consent.contracts import AccessContext
from consent.facade import access_filter
from core import page_tokens
from core.outcome import gone, invalid, not_found, not_supported
from federation.contracts import HistoryPage, StoredVersion
from federation.models import ReferenceIndex, Resource, ResourceVersion, WriteMethod
from federation.search.compiler import criterion_filter
from federation.search.query import parse_query, query_pairs
from federation.search.registry import index_key, parameters_for

MAX_VERSION_ID = 2**31 - 1  # the version column's range


def resource_read(*, access: AccessContext, resource_type: str, logical_id: str) -> StoredVersion:
    """The current version; 404 when unknown (or not visible), 410 when deleted."""
    row = access_filter(access, Resource.objects.filter(resource_type=resource_type, logical_id=logical_id)).first()
    if row is None:
        raise not_found(f"{resource_type}/{logical_id} is not known.")
    if row.is_deleted:
        raise gone(f"{resource_type}/{logical_id} was deleted (version {row.version_id}).")
    return row.as_stored()


def resource_vread(*, access: AccessContext, resource_type: str, logical_id: str, version_id: int) -> StoredVersion:
    """One version; 404 when unknown, 410 when that version is a deletion."""
    if version_id > MAX_VERSION_ID:
        raise not_found(f"{resource_type}/{logical_id}/_history/{version_id} is not known.")
    row = access_filter(
        access,
        ResourceVersion.objects.filter(resource_type=resource_type, logical_id=logical_id, version_id=version_id),
    ).first()
    if row is None:
        raise not_found(f"{resource_type}/{logical_id}/_history/{version_id} is not known.")
    if row.method == WriteMethod.DELETE:
        raise gone(f"{resource_type}/{logical_id}/_history/{version_id} is a deletion.")
    return row.as_stored()


def resource_history(
    *,
    access: AccessContext,
    resource_type: str | None = None,
    logical_id: str | None = None,
    since: datetime | None = None,
    count: int,
    page_token: str | None = None,
) -> HistoryPage:
    """Versions newest first, paged by keyset on (last_updated, id), so pages stay stable."""
    versions = ResourceVersion.objects.all()
    if resource_type is not None:
        versions = versions.filter(resource_type=resource_type)
    if logical_id is not None:
        versions = versions.filter(logical_id=logical_id)
        known = Resource.objects.filter(resource_type=resource_type, logical_id=logical_id)
        if not access_filter(access, known).exists():
            raise not_found(f"{resource_type}/{logical_id} is not known.")
    if since is not None:
        versions = versions.filter(last_updated__gte=since)
    if page_token:
        after_time, after_id = _decode_token(page_token)
        versions = versions.filter(Q(last_updated__lt=after_time) | Q(last_updated=after_time, id__lt=after_id))
    rows = list(access_filter(access, versions).order_by("-last_updated", "-id")[: count + 1])
    next_token = _encode_token(rows[count - 1]) if len(rows) > count else None
    return HistoryPage(versions=tuple(row.as_stored() for row in rows[:count]), next_token=next_token)


def resources_matching(
    *, access: AccessContext, resource_type: str, criteria: str, limit: int = 2
) -> list[StoredVersion]:
    """Live resources of a type that match conditional criteria (at most `limit`).

    Criteria are search parameters; an unknown one is refused, never ignored, because ignoring a
    criterion would make a conditional write hit the wrong resource.
    """
    query = parse_query(resource_type, query_pairs(criteria))
    if query.unknown:
        raise not_supported(
            f"Conditional criteria use parameters {resource_type} does not have: {', '.join(query.unknown)}."
        )
    if not query.criteria or len(query.kept) != len(query.criteria):
        raise invalid(f"Conditional criteria '{criteria}' must be search parameters only, at least one.")
    rows = Resource.objects.filter(resource_type=resource_type, is_deleted=False)
    for criterion in query.criteria:
        rows = rows.filter(criterion_filter(criterion, access))
    return [row.as_stored() for row in access_filter(access, rows).order_by("id")[:limit]]


def consents_about(*, access: AccessContext, patient_ids: list[str]) -> list[StoredVersion]:
    """The live Consent resources whose patient is one of `patient_ids` (found by the Consent `patient` index)."""
    about = ReferenceIndex.objects.filter(
        param=index_key(parameters_for("Consent")["patient"]), target_type="Patient", target_id__in=patient_ids
    )
    rows = Resource.objects.filter(resource_type="Consent", is_deleted=False, pk__in=about.values("resource_id"))
    return [row.as_stored() for row in access_filter(access, rows).order_by("logical_id")]


def _encode_token(row: ResourceVersion) -> str:
    return page_tokens.encode([row.last_updated.isoformat(), row.id])


def _decode_token(token: str) -> tuple[datetime, int]:
    def read(payload: Any) -> tuple[datetime, int]:
        moment, row_id = payload
        return datetime.fromisoformat(moment), int(row_id)

    try:
        return page_tokens.decode(token, read)
    except page_tokens.ForeignPageTokenError as error:
        raise invalid("The page token is not one this server issued.", expression="_page_token") from error
