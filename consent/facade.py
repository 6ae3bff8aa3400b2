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
    """Narrow a queryset of stored resources to what `access` may see, inside the SQL.

    Only system contexts exist yet (the platform, or a client with system scopes under the deployment's legal
    basis), and they see everything; person, clinician and app contexts will add their consent predicates
    here, so every selector that calls this is enforced in one place.
    """
    assert access.kind is AccessKind.SYSTEM
    return resources
