"""Consent test helpers: Consent resources as a person gives them, and tokens that act for a person or a member
of staff (their side recorded server-side, as the authorisation server records it when issuing them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accounts.contracts import Role
from accounts.services import account_assign_role, account_register
from consent.clients import client_register
from consent.contracts import Purpose
from consent.models import ClientKind
from consent.policy import CLIENT_ID_SYSTEM, CONSENT_SCOPE_SYSTEM, MUNICIPALITY_SYSTEM, PATIENT_PRIVACY
from consent.smart.authorisations import app_authorisation_issue
from federation.facade import date_interval

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PSY = {"system": ACT_CODE, "code": "PSY"}
ROLE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}


def consent(
    patient: str, provision: dict[str, Any], *, when: str = "2025-01-01T09:00:00+09:00", status: str = "active"
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": PATIENT_PRIVACY}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": when,
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": provision,
    }


def actor(reference: str) -> dict[str, Any]:
    return {"role": ROLE, "reference": {"reference": reference}}


def app_actor(client_id: str) -> dict[str, Any]:
    return {"role": ROLE, "reference": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": client_id}}}


def municipality_actor(code: str) -> dict[str, Any]:
    return {"role": ROLE, "reference": {"identifier": {"system": MUNICIPALITY_SYSTEM, "value": code}}}


def purpose(value: Purpose) -> dict[str, str]:
    return {"system": value.system, "code": value.value}


def instants(value: str) -> Any:
    return date_interval(value)


def token_for(scope: str, *, role: Role, subject: str, **ties: str) -> str:
    """A bearer token an app got through the consent screen: the account `subject` ("issuer|sub") with `role` and
    its `ties` approved it, recorded server-side by the service the authorisation server records approvals with."""
    issuer, _, sub = subject.rpartition("|")
    account = account_assign_role(account=account_register(issuer=issuer, subject=sub), role=role, **ties)
    client = client_register(
        name="Test app",
        kind=ClientKind.CONFIDENTIAL,
        organization="Organization/test",
        scopes=scope,
        redirect_uris=["http://127.0.0.1/callback"],
    )
    token = app_authorisation_issue(
        client_id=client.client_id, user=account.user, scope=scope, lasts=timedelta(hours=1)
    )
    return str(token.token)


def clinician_token(organization: str, practitioner: str, subject: str | None = None) -> str:
    return token_for(
        "user/*.rs",
        role=Role.CLINICIAN,
        subject=subject or f"https://idp|{practitioner}",
        organization=organization,
        practitioner=practitioner,
    )


def welfare_token(municipality: str) -> str:
    return token_for("user/*.rs", role=Role.WELFARE_OFFICER, subject="https://idp|welfare", municipality=municipality)


def patient_token(patient: str) -> str:
    return token_for("patient/*.rs", role=Role.PERSON, subject=f"https://idp|{patient}", patient=f"Patient/{patient}")
