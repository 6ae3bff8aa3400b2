"""What other apps may call in consent."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from consent.audit.selectors import RECORDED_BOUNDS, audit_event_read, audit_events_search
from consent.audit.services import audit_record
from consent.contracts import AccessContext, AccessKind, BreakGlassDeclaration
from consent.smart.throttling import PerTokenRateThrottle
from consent.smart.tokens import BearerTokenAuthentication, access_for_token, access_forget, interaction_allowed
from consent.smart.views import smart_configuration

__all__ = [
    "AUDIT_DATE_PREFIXES",
    "BearerTokenAuthentication",
    "PerTokenRateThrottle",
    "access_filter",
    "access_for_token",
    "access_forget",
    "audit_event_read",
    "audit_events_search",
    "audit_record",
    "break_glass_active",
    "break_glass_declare",
    "consent_check",
    "interaction_allowed",
    "smart_configuration",
]

M = TypeVar("M", bound=Model)

AUDIT_DATE_PREFIXES = frozenset(RECORDED_BOUNDS)  # the date prefixes an AuditEvent search takes


# consent.rules, enforcement and break_glass read the store through federation.facade, whose selectors call
# access_filter: they are imported on first use, so that either app can be loaded first.


def access_filter(access: AccessContext, resources: QuerySet[M]) -> QuerySet[M]:
    """Narrow a queryset of stored resources (current rows or versions) to what `access` may see, inside the SQL.

    SYSTEM: everything (the platform, or a client with system scopes under the deployment's legal basis).
    PATIENT: the pinned person's compartment and resources outside any Patient compartment. USER: per person,
    what their Consents in force (or the base policy) permit for this actor and purpose (docs/consent.md).
    """
    if access.kind is AccessKind.SYSTEM:
        return resources
    from consent.enforcement import access_rows
    from consent.rules import rules_refresh_pending

    rules_refresh_pending()
    return access_rows(access, resources)


def consent_check(resource: dict[str, Any]) -> None:
    """Refuse (FhirError 400, an OperationOutcome) a Consent the policy cannot read; called by the write path."""
    from consent.rules import consent_read

    consent_read(resource)


def break_glass_declare(
    *, access: AccessContext, patient_id: str, reason: str, hours: int | None = None
) -> BreakGlassDeclaration:
    """A clinician declares emergency treatment for Patient `patient_id` (consent.break_glass)."""
    from consent.break_glass import break_glass_declare as declare

    return declare(access=access, patient_id=patient_id, reason=reason, hours=hours)


def break_glass_active(*, subject: str) -> list[BreakGlassDeclaration]:
    """The account's unexpired break-the-glass declarations (for the audit trail: purpose ETREAT)."""
    from consent.break_glass import break_glass_active as active

    return active(subject=subject)
