"""What other apps may call in consent."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from consent.audit.selectors import RECORDED_BOUNDS, audit_event_read, audit_events_search
from consent.audit.services import audit_record
from consent.contracts import AccessContext, AccessKind
from consent.smart.throttling import PerTokenRateThrottle
from consent.smart.tokens import BearerTokenAuthentication, access_for_token, interaction_allowed
from consent.smart.views import smart_configuration

__all__ = [
    "AUDIT_DATE_PREFIXES",
    "BearerTokenAuthentication",
    "PerTokenRateThrottle",
    "access_filter",
    "access_for_token",
    "audit_event_read",
    "audit_events_search",
    "audit_record",
    "interaction_allowed",
    "smart_configuration",
]

M = TypeVar("M", bound=Model)

AUDIT_DATE_PREFIXES = frozenset(RECORDED_BOUNDS)  # the date prefixes an AuditEvent search takes


def access_filter(access: AccessContext, resources: QuerySet[M]) -> QuerySet[M]:
    """Narrow a queryset of stored resources (current rows or versions) to what `access` may see, inside the SQL.

    System contexts (the platform, or a client with system scopes under the deployment's legal basis) see
    everything. Consent rules for people, staff and apps are not written yet, so those contexts fail closed: a
    token pinned to a person sees that person's own Patient resource and nothing else, and a staff member's
    token sees nothing. Every selector calls this, so consent's rules replace these lines in one place.
    """
    if access.kind is AccessKind.SYSTEM:
        return resources
    if access.kind is AccessKind.PATIENT and access.patient:
        return resources.filter(resource_type="Patient", logical_id=access.patient)
    return resources.none()
