"""Writing the audit trail: one entry per audited event, appended to the hash chain."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from consent.audit.chain import chain_append
from consent.audit.models import AuditRecord
from consent.contracts import AuditEntry


@transaction.atomic(savepoint=False)  # no savepoint of its own: an entry that fails fails what it audits
def audit_record(*, entry: AuditEntry) -> AuditRecord:
    """Append `entry`. Callers write it inside the transaction of what they audit, so an event is never lost
    when the work commits, and the work fails when its event cannot be written."""
    access = entry.access
    return chain_append(
        {
            "recorded": timezone.now(),
            "category": entry.category.value,
            "subtype": entry.subtype,
            "action": entry.action,
            "status": entry.status,
            "outcome_text": entry.outcome_text,
            "kind": access.kind.value if access else "",
            "purpose": access.purpose.value if access else "",
            "reason": access.reason if access else "",
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
