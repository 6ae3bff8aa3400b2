"""The one write path: create, update, delete and their conditional forms.

Connectors, the REST API and (later) identity linking all call these; each public function is
atomic, validates before it writes, keeps the search index in step with the current version,
and answers with a WriteResult.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from consent.contracts import AccessContext
from consent.facade import consent_check
from core.outcome import FhirError, conflict, invalid
from federation.contracts import StoredVersion, WriteResult
from federation.fhir import r4b
from federation.fhir.spec import served_resource_types
from federation.identity.golden import with_kept_golden_link
from federation.identity.persons import golden_ids_of
from federation.models import PLACEMENT_FIELDS, Resource, ResourceVersion, WriteMethod
from federation.search.indexing import IndexBatch, IndexRows, index_resource, index_rows
from federation.search.placement import placement_of
from federation.search.selectors import resources_matching
from federation.storage.claims import creation_claim
from federation.storage.rows import (
    RESOURCE_IDS,
    CopiedRow,
    Serialised,
    content_hash,
    new_logical_id,
    next_values,
    require_valid_id,
    resources_copy,
    versions_copy,
    with_server_meta,
)

CHANGED_FIELDS = ("version_id", "last_updated", "is_deleted", "content", "content_hash")  # of a new version


def resource_validate(resource: Any, *, expected_type: str | None = None) -> dict[str, Any]:
    """Check a parsed body is a served resource type, of the expected type, and structurally valid."""
    resource_checked(resource, expected_type=expected_type)
    assert isinstance(resource, dict), "resource_checked refuses anything else"
    return resource


def resource_checked(resource: Any, *, expected_type: str | None = None) -> bool:
    """`resource_validate`'s checks; True when they also showed that the resource holds only plain JSON values
    (dict, list, str, int, bool, Decimal: see r4b_structure.surely_valid), which its serialisation need not
    check again."""
    if not isinstance(resource, dict):
        raise invalid("The body must be a JSON object holding a FHIR resource.")
    if not resource:
        raise invalid("The request body is empty; a FHIR JSON resource was expected.")
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise invalid("The resource has no resourceType.")
    if resource_type not in served_resource_types():
        raise invalid(f"resourceType '{resource_type}' is not a resource type this server stores.")
    if expected_type is not None and resource_type != expected_type:
        raise invalid(f"The body is a {resource_type} but the URL names {expected_type}.")
    issues, plain = r4b.checked_issues(resource)
    if issues:
        raise FhirError(400, issues)
    if resource_type == "Consent":
        consent_check(resource)  # a Consent the policy cannot read would be ignored: refused instead
    return plain


@transaction.atomic
def resource_create(
    *,
    access: AccessContext,
    resource: dict[str, Any],
    logical_id: str | None = None,
    expected_type: str | None = None,
) -> WriteResult:
    """Store a new resource under a server id (or `logical_id`: a fresh id a transaction chose)."""
    resource_validate(resource, expected_type=expected_type)
    return _insert(resource, logical_id or new_logical_id(), WriteMethod.POST)


@transaction.atomic
def resource_create_conditional(
    *, access: AccessContext, resource: dict[str, Any], criteria: str, expected_type: str | None = None
) -> WriteResult:
    """If-None-Exist: return the one match unchanged, create when none, 412 when several."""
    resource_validate(resource, expected_type=expected_type)
    matches = _matches_or_claim(access, resource["resourceType"], criteria)
    if len(matches) > 1:
        raise conflict(412, f"If-None-Exist '{criteria}' matches more than one {resource['resourceType']}.")
    if matches:
        return WriteResult(version=matches[0], created=False, changed=False)
    return _insert(resource, new_logical_id(), WriteMethod.POST)


@transaction.atomic
def resource_update(
    *,
    access: AccessContext,
    resource_type: str,
    logical_id: str,
    resource: dict[str, Any],
    expected_version: int | None = None,
) -> WriteResult:
    """PUT: a new version (none if the content is unchanged); creates when the id is new."""
    resource_validate(resource, expected_type=resource_type)
    require_valid_id(resource_type, logical_id)
    if resource.get("id") != logical_id:
        raise invalid(
            f"The body's id '{resource.get('id')}' differs from the id '{logical_id}' in the URL.",
            expression=f"{resource_type}.id",
        )
    row = Resource.objects.select_for_update().filter(resource_type=resource_type, logical_id=logical_id).first()
    if row is None:
        if expected_version is not None:
            raise conflict(412, f"If-Match names version {expected_version} but {resource_type}/{logical_id} is new.")
        return _insert(resource, logical_id, WriteMethod.PUT)
    if expected_version is not None and expected_version != row.version_id:
        raise conflict(412, f"If-Match names version {expected_version}; the current version is {row.version_id}.")
    if resource_type == "Patient":
        resource = with_kept_golden_link(resource, golden_ids_of([row.pk]).get(row.pk))
    new_hash = content_hash(resource)
    if not row.is_deleted and row.content_hash == new_hash:
        return WriteResult(version=row.as_stored(WriteMethod.PUT), created=False, changed=False)
    return _append_version(row, resource, new_hash, WriteMethod.PUT)


@transaction.atomic
def resource_update_conditional(
    *, access: AccessContext, resource_type: str, criteria: str, resource: dict[str, Any]
) -> WriteResult:
    """PUT Type?criteria: update the one match, create when none, 412 when several."""
    resource_validate(resource, expected_type=resource_type)
    matches = _matches_or_claim(access, resource_type, criteria)
    if len(matches) > 1:
        raise conflict(412, f"Conditional update '{criteria}' matches more than one {resource_type}.")
    body_id = resource.get("id")
    if matches:
        if body_id is not None and body_id != matches[0].logical_id:
            raise invalid(f"The body's id '{body_id}' differs from the matched {matches[0].relative_url}.")
        logical_id = matches[0].logical_id
    else:
        logical_id = body_id if body_id is not None else new_logical_id()
    return resource_update(
        access=access,
        resource_type=resource_type,
        logical_id=logical_id,
        resource={**resource, "id": logical_id},
    )


def _matches_or_claim(access: AccessContext, resource_type: str, criteria: str) -> list[StoredVersion]:
    """The matches; when there are none, claim the criteria (see claims.py) and look again."""
    matches = resources_matching(access=access, resource_type=resource_type, criteria=criteria)
    if matches:
        return matches
    creation_claim(resource_type, criteria)
    return resources_matching(access=access, resource_type=resource_type, criteria=criteria)


@transaction.atomic
def resource_delete(*, access: AccessContext, resource_type: str, logical_id: str) -> WriteResult | None:
    """Soft delete: a deletion version; history stays. None when the resource never existed."""
    row = Resource.objects.select_for_update().filter(resource_type=resource_type, logical_id=logical_id).first()
    if row is None:
        return None
    if row.is_deleted:
        return WriteResult(version=row.as_stored(WriteMethod.DELETE), created=False, changed=False)
    row.version_id += 1
    row.last_updated = timezone.now()
    row.is_deleted = True
    row.content = None
    row.content_hash = ""
    found = _place(row)
    row.save(update_fields=[*CHANGED_FIELDS, *PLACEMENT_FIELDS])
    _record_version(row, WriteMethod.DELETE)
    index_resource(row, found, is_new=False)
    return WriteResult(version=row.as_stored(WriteMethod.DELETE), created=False, changed=True)


def resource_delete_conditional(*, access: AccessContext, resource_type: str, criteria: str) -> WriteResult | None:
    """DELETE Type?criteria: delete the one match; None when nothing matches; 412 when several do."""
    matches = resources_matching(access=access, resource_type=resource_type, criteria=criteria)
    if len(matches) > 1:
        raise conflict(412, f"Conditional delete '{criteria}' matches more than one {resource_type}.")
    if not matches:
        return None
    return resource_delete(access=access, resource_type=resource_type, logical_id=matches[0].logical_id)


def _insert(resource: dict[str, Any], logical_id: str, method: WriteMethod) -> WriteResult:
    require_valid_id(resource["resourceType"], logical_id)
    now = timezone.now()
    content = with_server_meta(resource, logical_id, 1, now)
    row = Resource(
        resource_type=resource["resourceType"],
        logical_id=logical_id,
        version_id=1,
        last_updated=now,
        content=content,
        content_hash=content_hash(content),
    )
    found = _place(row)
    if method == WriteMethod.POST:
        row.save(force_insert=True)  # a fresh uuid4: nothing can collide
    else:
        _insert_client_id(row)
    _record_version(row, method)
    index_resource(row, found, is_new=True)
    return WriteResult(version=row.as_stored(method), created=True, changed=True)


def _insert_client_id(row: Resource) -> None:
    """Update-as-create races another PUT of the same new id: the loser gets 409, not a 500."""
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError as error:
        raise conflict(409, f"{row.resource_type}/{row.logical_id} was created concurrently; retry.") from error


def _append_version(row: Resource, resource: dict[str, Any], new_hash: str, method: WriteMethod) -> WriteResult:
    now = timezone.now()
    row.version_id += 1
    row.last_updated = now
    row.is_deleted = False
    row.content = with_server_meta(resource, row.logical_id, row.version_id, now)
    row.content_hash = new_hash
    found = _place(row)
    row.save(update_fields=[*CHANGED_FIELDS, *PLACEMENT_FIELDS])
    _record_version(row, method)
    index_resource(row, found, is_new=False)
    return WriteResult(version=row.as_stored(method), created=False, changed=True)


def _place(row: Resource) -> IndexRows | None:
    """The row's index rows, extracted once for the index and for its placement columns, which it sets."""
    found = None if row.content is None else index_rows(row.resource_type, row.content)
    placement = placement_of(row.resource_type, row.logical_id, found)
    row.owners, row.data_period = placement.owners, placement.data_period
    return found


def _record_version(row: Resource, method: WriteMethod) -> None:
    ResourceVersion.objects.create(
        resource=row,
        resource_type=row.resource_type,
        logical_id=row.logical_id,
        version_id=row.version_id,
        last_updated=row.last_updated,
        method=method,
        content=row.content,
    )


@transaction.atomic
def resources_import(*, access: AccessContext, resources: list[dict[str, Any]]) -> int:
    """Bulk create: new resources with their own ids, validated, written and indexed by COPY.

    For loads of many resources at once (a region's history, a benchmark data set): one statement
    per table instead of several per resource. Every id must be new: an existing one fails the
    whole batch (409), since bulk import never overwrites.
    """
    for resource in resources:
        resource_validate(resource)
        require_valid_id(resource["resourceType"], resource.get("id", ""))
    if not resources:
        return 0
    now = timezone.now()
    keys = next_values(RESOURCE_IDS, len(resources))
    with connection.cursor() as cursor:
        copied: list[CopiedRow] = []
        batch = IndexBatch()
        for key, resource in zip(keys, resources, strict=True):
            content = with_server_meta(resource, resource["id"], 1, now)
            serialised = Serialised(content)  # one text for both tables
            row = Resource(
                pk=key,
                resource_type=resource["resourceType"],
                logical_id=resource["id"],
                version_id=1,
                last_updated=now,
                content=content,
                content_hash=serialised.content_hash,
            )
            batch.add(key, _place(row), is_new=True)
            copied.append(_copied(row, serialised.text))
        try:
            with transaction.atomic():
                resources_copy(cursor.cursor, copied)
                versions_copy(cursor.cursor, copied)
        except (IntegrityError, psycopg.IntegrityError) as error:  # COPY runs on the raw psycopg cursor
            raise conflict(409, "Bulk import found ids that already exist; it only creates.") from error
    batch.write()
    return len(copied)


def _copied(row: Resource, text: str) -> CopiedRow:
    return CopiedRow(
        pk=row.pk,
        resource_type=row.resource_type,
        logical_id=row.logical_id,
        version_id=row.version_id,
        last_updated=row.last_updated,
        text=text,
        content_hash=row.content_hash,
        method=WriteMethod.POST.value,
        owners=row.owners,
        data_period=row.data_period,
        current=True,
    )
