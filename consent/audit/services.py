"""Writing the audit trail: one entry per audited event, appended to the hash chain."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from consent.audit.chain import chain_append
from consent.audit.models import AuditRecord
from consent.contracts import AccessContext, AccessKind, AuditEntry, Purpose


@transaction.atomic(savepoint=False)  # no savepoint of its own: an entry that fails fails what it audits
def audit_record(*, entry: AuditEntry) -> AuditRecord:
    """Append `entry`. Callers write it inside the transaction of what they audit, so an event is never lost
    when the work commits, and the work fails when its event cannot be written."""
    access = entry.access
    purpose, reason = _purpose_and_reason(access, entry.patients)
    return chain_append(
        {
            "recorded": timezone.now(),
            "category": entry.category.value,
            "subtype": entry.subtype,
            "action": entry.action,
            "status": entry.status,
            "outcome_text": entry.outcome_text,
            "kind": access.kind.value if access else "",
            "purpose": purpose,
            "reason": reason,
            "subject": (access.subject if access else None) or entry.subject or "",
            "role": (access.role if access else None) or entry.role or "",
            "client_id": (access.client_id if access else None) or "",
            "organization": (access.organization if access else None) or "",
            "practitioner": (access.practitioner if access else None) or "",
            "municipality": (access.municipality if access else None) or "",
            "network": entry.network or "",
            "entities": list(entry.entities),
            "patients": sorted(set(entry.patients)),
            "query": entry.query,
        }
    )


def _purpose_and_reason(access: AccessContext | None, patients: tuple[str, ...]) -> tuple[str, str]:
    """The access context's purpose, or emergency treatment with its written reason when a clinician acts under a
    break-the-glass declaration for one of the persons concerned: the person sees it in their trail."""
    if access is None:
        return "", ""
    covered = access.emergency is None or not set(access.emergency).isdisjoint(patients)
    if access.kind is AccessKind.USER and access.subject and patients and covered:
        from consent.break_glass import break_glass_active  # reads the store through federation: on first use

        declarations = break_glass_active(subject=access.subject, patients=patients)
        if declarations:
            return Purpose.EMERGENCY_TREATMENT.value, declarations[0].reason
    return access.purpose.value, access.reason
