"""An audit row as a FHIR R4 AuditEvent, in the shape of IHE Basic Audit Log Patterns (BALP)."""

from __future__ import annotations

import base64
from typing import Any

from consent.audit.models import AuditRecord
from consent.contracts import AccessKind, AuditCategory, Purpose

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
NETWORK_TYPE_IP = "2"  # AuditEvent.agent.network.type: IP address
TSUNAGI_ROLE = "https://tsunagi.example.jp/fhir/CodeSystem/account-role"
CLIENT_ID = "https://tsunagi.example.jp/fhir/NamingSystem/client-id"
MUNICIPALITY = "https://tsunagi.example.jp/fhir/NamingSystem/municipality"

# AuditEvent.type per category (its `type` search parameter matches these codes)
TYPES = {
    AuditCategory.REST: {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
    AuditCategory.LOGIN: {"system": DICOM, "code": "110114", "display": "User Authentication"},
    AuditCategory.IMPORT: {"system": DICOM, "code": "110107", "display": "Import"},
}
TYPE_CATEGORIES = {coding["code"]: category.value for category, coding in TYPES.items()}
LOGIN = {"system": DICOM, "code": "110122", "display": "Login"}
IMPORT = {"system": RESTFUL_INTERACTION, "code": "batch"}


def audit_event_resource(record: AuditRecord) -> dict[str, Any]:
    category = AuditCategory(record.category)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(record.pk),
        "meta": {"lastUpdated": _instant(record)},
        "type": TYPES[category],
        "subtype": [_subtype(category, record.subtype)],
        "action": record.action,
        "recorded": _instant(record),
        "outcome": _outcome_code(record.status),
        "outcomeDesc": f"{record.status} {record.outcome_text}".strip(),
        "agent": _agents(record),
        "source": {
            "observer": {"display": "Tsunagi"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    }
    if record.purpose:
        event["purposeOfEvent"] = [_purpose(record)]
    entities = _entities(record)
    if entities:
        event["entity"] = entities
    return event


def _instant(record: AuditRecord) -> str:
    return record.recorded.isoformat(timespec="milliseconds")


def _subtype(category: AuditCategory, subtype: str) -> dict[str, str]:
    if category is AuditCategory.LOGIN:
        return LOGIN
    if category is AuditCategory.IMPORT:
        return IMPORT
    if subtype.startswith("$"):
        return {"system": RESTFUL_INTERACTION, "code": "operation", "display": subtype}
    return {"system": RESTFUL_INTERACTION, "code": subtype}


def _outcome_code(status: int) -> str:
    """0 success, 4 minor failure (the request was refused), 8 serious failure (the server failed)."""
    if status < 400:
        return "0"
    return "4" if status < 500 else "8"


def _purpose(record: AuditRecord) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [{"system": Purpose(record.purpose).system, "code": record.purpose}]}
    if record.reason:
        concept["text"] = record.reason
    return concept


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    """The person or staff member (requestor when present), the app, and the organisation or municipality."""
    agents: list[dict[str, Any]] = []
    if record.subject or not record.client_id:
        agents.append(_actor(record))
    if record.client_id:
        agents.append(
            {
                "type": {"coding": [{"system": DICOM, "code": "110150", "display": "Application"}]},
                "who": {"identifier": {"system": CLIENT_ID, "value": record.client_id}},
                "requestor": not record.subject,
            }
        )
    if record.organization:
        agents.append({"who": {"reference": record.organization}, "requestor": False})
    if record.municipality:
        agents.append(
            {"who": {"identifier": {"system": MUNICIPALITY, "value": record.municipality}}, "requestor": False}
        )
    if record.network:
        agents[0]["network"] = {"address": record.network, "type": NETWORK_TYPE_IP}
    if record.purpose:
        agents[0]["purposeOfUse"] = [_purpose(record)]
    return agents


def _actor(record: AuditRecord) -> dict[str, Any]:
    """The signed-in account (who: issuer and subject, or the clinician's Practitioner), the platform itself
    for its own work, or an unknown caller."""
    actor: dict[str, Any] = {"requestor": True}
    if record.subject:
        issuer, _, subject = record.subject.rpartition("|")
        who: dict[str, Any] = {"identifier": {"system": issuer, "value": subject}}
        if record.practitioner:
            who["reference"] = record.practitioner
        actor["who"] = who
        actor["type"] = {"coding": [{"system": SECURITY_ROLE_TYPE, "code": "humanuser", "display": "human user"}]}
    elif record.kind == AccessKind.SYSTEM.value:
        actor["who"] = {"display": f"Tsunagi ({record.reason})" if record.reason else "Tsunagi"}
    else:
        actor["who"] = {"display": "unknown (no valid credentials)"}
    if record.role:
        actor["role"] = [{"coding": [{"system": TSUNAGI_ROLE, "code": record.role}]}]
    return actor


def _entities(record: AuditRecord) -> list[dict[str, Any]]:
    """The persons the event concerns first (BALP: entity.what = the Patient), then what was touched, then the
    query asked."""
    entities: list[dict[str, Any]] = [
        {
            "what": {"reference": f"Patient/{patient}"},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }
        for patient in record.patients
    ]
    for entity in record.entities:
        what: dict[str, Any] = (
            {"identifier": {"system": "urn:ietf:rfc:3986", "value": entity}}
            if entity.startswith("urn:")
            else {"reference": entity}
        )
        entities.append(
            {
                "what": what,
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    if record.query:
        entities.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                "query": base64.b64encode(record.query.encode()).decode(),
            }
        )
    return entities
