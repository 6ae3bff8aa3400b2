"""Keeping the compiled rules (ConsentRule) in step with the Consent resources and with identity links.

Database triggers queue a Patient id whenever a Consent row is written or a person's links change (whatever
path wrote it); `rules_refresh_pending` drains the queue before the access filter reads the rules, rebuilding
each queued person's rules from their Consents in force (consent.policy).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import connection, transaction

from consent.contracts import AccessContext
from consent.models import RULES_PENDING_SQL, ConsentRule
from consent.policy import ConsentTerms, Rule, UnreadableConsentError, consent_terms, in_force
from core.outcome import invalid
from federation import facade as federation

PENDING = f"SELECT {RULES_PENDING_SQL}"
DRAIN = "DELETE FROM consent_rulerefresh RETURNING patient"
REFRESH_ACCESS = AccessContext.system("consent rules")


def consent_read(resource: dict[str, Any]) -> ConsentTerms:
    """A Consent's terms; a Consent the policy cannot read is refused with an OperationOutcome naming why."""
    if _probed.get():
        _probed.set(False)  # the Consent about to be written queues its person: the next read rebuilds
    try:
        return consent_terms(resource, instants=federation.date_interval)
    except UnreadableConsentError as unreadable:
        raise invalid(str(unreadable), expression=unreadable.expression) from unreadable


# Within a request the queue is probed once (True once probed; None outside a request: probed on every read), and
# again after a Consent is written in the request (consent_read marks it); link changes come from the linker's
# own jobs, never in the middle of a request.
_probed: ContextVar[bool | None] = ContextVar("consent_rules_probed", default=None)


def request_began(**_: Any) -> None:
    _probed.set(False)


def request_ended(**_: Any) -> None:
    _probed.set(None)


def rules_probed(*, pending: bool) -> None:
    """The request's token lookup asked the queue already: when it was empty, the request's reads need not."""
    if _probed.get() is not None and not pending:
        _probed.set(True)


def rules_refresh_pending() -> None:
    """Rebuild the rules of every person queued since the last read (usually none: one query of an empty table)."""
    if _probed.get():
        return
    with connection.cursor() as cursor:
        cursor.execute(PENDING)
        pending = cursor.fetchone()
    if pending and pending[0]:
        _rules_refresh_queued()
    if _probed.get() is not None:
        _probed.set(True)


@transaction.atomic
def _rules_refresh_queued() -> None:
    with connection.cursor() as cursor:
        cursor.execute(DRAIN)
        queued = {row[0] for row in cursor.fetchall()}
    done: set[str] = set()
    for patient in sorted(queued):
        if patient not in done:
            done.update(person_rules_refresh(patient_id=patient))


def person_rules_refresh(*, patient_id: str) -> list[str]:
    """Rebuild the rules of the person `patient_id` is; returns the person's Patient ids."""
    patients = federation.person_of_patient(patient_id)
    consents = federation.consents_about(access=REFRESH_ACCESS, patient_ids=patients)
    terms = [consent_read(version.content) for version in consents if version.content is not None]
    rules = [rule for agreed in in_force(terms) for rule in agreed.rules]
    ConsentRule.objects.filter(person__in=[patients[0], patient_id]).delete()
    ConsentRule.objects.filter(patient__in=patients).delete()
    ConsentRule.objects.bulk_create(_row(rule, patients[0], patient) for patient in patients for rule in rules)
    return patients


def _row(rule: Rule, person: str, patient: str) -> ConsentRule:
    return ConsentRule(
        person=person,
        patient=patient,
        consent=rule.consent,
        depth=rule.depth,
        effect=rule.effect.value,
        actor=rule.actor,
        purposes=sorted(rule.purposes) if rule.purposes is not None else None,
        resource_types=sorted(rule.resource_types) if rule.resource_types is not None else None,
        labels=[[{"system": system, "code": code}] for system, code in sorted(rule.labels)]
        if rule.labels is not None
        else None,
        dated=rule.data_period is not None,
        data_low=rule.data_period.low if rule.data_period else None,
        data_high=rule.data_period.high if rule.data_period else None,
        valid_from=rule.valid.low if rule.valid else None,
        valid_to=rule.valid.high if rule.valid else None,
    )
