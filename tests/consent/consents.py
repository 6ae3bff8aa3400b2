"""Consent test helpers: Consent resources as a person gives them, and tokens that act for a person or a member
of staff (their side recorded server-side, as the authorisation server records it when issuing them)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from consent.clients import client_register
from consent.contracts import Purpose
from consent.models import ClientKind, TokenAccess
from consent.policy import CLIENT_ID_SYSTEM, CONSENT_SCOPE_SYSTEM, MUNICIPALITY_SYSTEM, PATIENT_PRIVACY
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


def token_for(scope: str, **side: str) -> str:
    """A bearer token of a registered app, acting on the side `side` describes (kind, purpose, patient, ...)."""
    client = client_register(
        name="Test app", kind=ClientKind.CONFIDENTIAL, organization="Organization/test", scopes=scope, redirect_uris=[]
    )
    token = AccessToken.objects.create(
        application=Application.objects.get(client_id=client.client_id),
        token=secrets.token_urlsafe(32),
        expires=timezone.now() + timedelta(hours=1),
        scope=scope,
    )
    TokenAccess.objects.create(token=token, **side)
    return str(token.token)


def clinician_token(organization: str, practitioner: str, subject: str = "https://idp|doc") -> str:
    return token_for(
        "user/*.rs",
        kind="user",
        purpose=Purpose.TREATMENT.value,
        subject=subject,
        role="clinician",
        organization=organization,
        practitioner=practitioner,
    )


def welfare_token(municipality: str) -> str:
    return token_for(
        "user/*.rs",
        kind="user",
        purpose=Purpose.WELFARE_SUPPORT.value,
        subject="https://idp|welfare",
        role="welfare_officer",
        municipality=municipality,
    )


def patient_token(patient: str) -> str:
    return token_for("patient/*.rs", kind="patient", purpose=Purpose.PERSONAL.value, patient=patient, role="person")
