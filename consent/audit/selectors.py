"""Reading the audit trail: who may see which events, and the AuditEvent search.

A person (a PATIENT context) sees the events about their own person, a member of staff (USER) the events of
their own actions, and the platform or a client with system scopes (SYSTEM) all of them."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from consent.audit.fhir import TYPE_CATEGORIES, audit_event_resource
from consent.audit.models import AuditRecord
from consent.contracts import AccessContext, AccessKind, AuditCriteria, AuditPage

RECORDED_BOUNDS = {  # FHIR date prefixes over the [low, high] a date value covers
    "eq": lambda low, high: Q(recorded__gte=low, recorded__lte=high),
    "lt": lambda low, high: Q(recorded__lt=low),
    "le": lambda low, high: Q(recorded__lte=high),
    "gt": lambda low, high: Q(recorded__gt=high),
    "ge": lambda low, high: Q(recorded__gte=low),
}


def audit_events_search(*, access: AccessContext, criteria: AuditCriteria) -> AuditPage:
    """A page of the events `access` may see that meet `criteria`, newest first (keyset on id)."""
    records = _visible(access).filter(_criteria(criteria))
    if criteria.after_id is not None:
        records = records.filter(id__lt=criteria.after_id)
    rows = list(records.order_by("-id")[: criteria.count + 1])
    next_after_id = rows[criteria.count - 1].pk if len(rows) > criteria.count else None
    return AuditPage(
        events=tuple(audit_event_resource(row) for row in rows[: criteria.count]), next_after_id=next_after_id
    )


def audit_event_read(*, access: AccessContext, event_id: int) -> dict[str, object] | None:
    """One event as an AuditEvent, or None when it does not exist or `access` may not see it."""
    record = _visible(access).filter(id=event_id).first()
    return audit_event_resource(record) if record is not None else None


def _visible(access: AccessContext) -> QuerySet[AuditRecord]:
    records = AuditRecord.objects.all()
    if access.kind is AccessKind.SYSTEM:
        return records
    if access.kind is AccessKind.PATIENT:
        from consent.enforcement import person_patients  # reads the store through federation: on first use

        own = person_patients(access)  # the person's Patient ids, whether pinned to a golden or a source record
        return records.filter(patients__overlap=list(own)) if own else records.none()
    return records.filter(subject=access.subject) if access.subject else records.none()


def _criteria(criteria: AuditCriteria) -> Q:
    condition = Q()
    if criteria.patients is not None:
        condition &= Q(patients__overlap=list(criteria.patients))
    for prefix, low, high in criteria.recorded:
        condition &= RECORDED_BOUNDS[prefix](low, high)
    if criteria.agent is not None:
        value = criteria.agent
        condition &= Q(subject=value) | Q(client_id=value) | Q(practitioner=value) | Q(organization=value)
    if criteria.entity is not None:
        kind, _, patient = criteria.entity.partition("/")
        about_patient = Q(patients__contains=[patient]) if kind == "Patient" else Q(pk__in=[])
        condition &= Q(entities__contains=[criteria.entity]) | about_patient
    if criteria.types:
        categories = [TYPE_CATEGORIES.get(code.rpartition("|")[2], "") for code in criteria.types]
        condition &= Q(category__in=categories)
    return condition
