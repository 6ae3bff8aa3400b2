"""Break-the-glass: a clinician declares emergency treatment for one person, with a written reason, to pass the
person's deny provisions for a limited time. Declaring is the only way; it expires on its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.contracts import Role
from consent.contracts import AccessContext, AccessKind, BreakGlassDeclaration
from consent.models import BreakGlass, emergency_patients_sql
from core.outcome import FhirError, Issue, invalid
from federation import facade as federation


@transaction.atomic
def break_glass_declare(
    *, access: AccessContext, patient_id: str, reason: str, hours: int | None = None
) -> BreakGlassDeclaration:
    """Record the declaration of the clinician acting in `access` (a USER context) for Patient `patient_id`."""
    if access.kind is not AccessKind.USER or not access.subject or access.role != Role.CLINICIAN:
        raise FhirError(403, [Issue("forbidden", "Only a signed-in clinician (a user context) can break the glass.")])
    if not reason.strip():
        raise invalid("A reason is required to break the glass.", expression="Parameters.parameter.reason")
    limit = int(settings.BREAK_GLASS_HOURS)
    hours = limit if hours is None else hours
    if not 0 < hours <= limit:
        raise invalid(f"'hours' must be between 1 and {limit}.", expression="Parameters.parameter.hours")
    federation.resource_read(
        access=AccessContext.system("break-the-glass"), resource_type="Patient", logical_id=patient_id
    )
    now = timezone.now()
    row = BreakGlass.objects.create(
        subject=access.subject,
        practitioner=access.practitioner or "",
        organization=access.organization or "",
        patient=patient_id,
        patients=federation.person_of_patient(patient_id),
        reason=reason.strip(),
        declared_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    return _declaration(row)


def break_glass_active(*, subject: str, patients: Iterable[str] | None = None) -> list[BreakGlassDeclaration]:
    """The account's unexpired declarations, newest first; with `patients`, those covering any of them (the audit
    trail records purpose ETREAT and the reason for them)."""
    rows = BreakGlass.objects.filter(subject=subject, expires_at__gt=timezone.now())
    if patients is not None:
        rows = rows.filter(patients__overlap=list(patients))
    return [_declaration(row) for row in rows.order_by("-declared_at", "-pk")]


def break_glass_patients(*, subject: str) -> tuple[str, ...]:
    """The Patients the account's unexpired declarations cover (the access filter passes their denies)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {emergency_patients_sql('%s')}", [subject])
        return tuple(cursor.fetchone()[0])


def _declaration(row: BreakGlass) -> BreakGlassDeclaration:
    return BreakGlassDeclaration(
        declaration_id=row.pk,
        subject=row.subject,
        practitioner=row.practitioner or None,
        organization=row.organization or None,
        patient=row.patient,
        reason=row.reason,
        declared_at=row.declared_at,
        expires_at=row.expires_at,
    )
