"""Writes of app authorisations: the approval on the consent screen (with its FHIR Consent for a person), the
same approval recorded where no one clicks through the screen, and revocation, which ends every token issued
under it."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from accounts.facade import signed_in_account
from consent.contracts import PURPOSE_SYSTEM, AccessContext, Purpose
from consent.models import AppAuthorisation, AuthorisedToken, ClientRegistration
from consent.scopes import grant_of
from consent.smart.launch import LaunchChoice, launch_plan
from core.instant import format_instant
from federation.facade import resource_create, resource_update

CLIENT_ID_SYSTEM = "https://tsunagi.example.jp/fhir/NamingSystem/client-id"
AUTHORISATION_SYSTEM = "https://tsunagi.example.jp/fhir/NamingSystem/app-authorisation"
CONSENT_CATEGORY_SYSTEM = "https://tsunagi.example.jp/fhir/CodeSystem/consent-category"
WRITER = AccessContext.system("app authorisation")


@transaction.atomic
def app_authorisation_grant(*, grant: Grant, choice: LaunchChoice, scope: str) -> AppAuthorisation:
    """Record the approval that made authorization code `grant`; a person's approval is written as an active
    FHIR Consent too."""
    return _approval_record(application=grant.application, choice=choice, scope=scope, grant=grant)


@transaction.atomic
def app_authorisation_issue(*, client_id: str, user: Any, scope: str, lasts: timedelta) -> AccessToken:
    """Record the approval of app `client_id` by the account of `user` for `scope`, lasting `lasts`, as if given
    on the consent screen (what the account may authorise decides the scopes kept and the Patient pinned;
    LaunchRefusedError when it may not), and issue an access token under it, linked as the token endpoint links
    its own but lasting as long as the approval, since no one refreshes it. For tests and benchmarks, which need
    an approved app's token without a browser."""
    account = signed_in_account(user)
    plan = launch_plan(account=account, requested=scope.split())
    assert account is not None  # launch_plan refuses a user without an account
    granted = " ".join(plan.offered)
    authorisation = _approval_record(
        application=Application.objects.get(client_id=client_id),
        choice=LaunchChoice(user=user, account=account, lasts=lasts, patient=plan.patient),
        scope=granted,
        grant=None,
    )
    token = AccessToken.objects.create(
        user=user,
        application=authorisation.registration.application,
        token=secrets.token_urlsafe(32),
        expires=authorisation.expires_at,
        scope=granted,
    )
    AuthorisedToken.objects.create(authorisation=authorisation, access_token=token)
    return token


def _approval_record(
    *, application: Application, choice: LaunchChoice, scope: str, grant: Grant | None
) -> AppAuthorisation:
    account = choice.account
    now = timezone.now()
    authorisation = AppAuthorisation.objects.create(
        registration=ClientRegistration.objects.get(application=application),
        user=choice.user,
        subject=account.subject,
        role=account.role.value if account.role else "",
        patient=choice.patient,
        organization=account.organization,
        practitioner=account.practitioner,
        municipality=account.municipality,
        scope=scope,
        grant=grant,
        created_at=now,
        expires_at=now + choice.lasts,
    )
    if authorisation.patient:
        written = resource_create(access=WRITER, resource=consent_resource(authorisation))
        authorisation.consent = written.version.relative_url
        authorisation.save(update_fields=["consent"])
    return authorisation


@transaction.atomic
def app_authorisation_revoke(*, authorisation: AppAuthorisation) -> AppAuthorisation:
    """End an authorisation now: its Consent becomes inactive, its unexchanged code and every token issued
    under it stop working (the next request with one answers 401)."""
    locked = (
        AppAuthorisation.objects.select_for_update()
        .select_related("registration__application")
        .get(pk=authorisation.pk)
    )
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    AccessToken.objects.filter(authorised__authorisation=locked).delete()
    RefreshToken.objects.filter(authorised__authorisation=locked, revoked__isnull=True).update(
        revoked=locked.revoked_at
    )
    if locked.grant_id is not None:
        Grant.objects.filter(pk=locked.grant_id).delete()
    if locked.consent:
        logical_id = locked.consent.removeprefix("Consent/")
        resource_update(
            access=WRITER,
            resource_type="Consent",
            logical_id=logical_id,
            resource={**consent_resource(locked), "id": logical_id},
        )
    return locked


def consent_resource(authorisation: AppAuthorisation) -> dict[str, Any]:
    """The FHIR Consent of a person's app authorisation: permit the app (by client id) to access the resource
    types its scopes name, for the chosen period; inactive once revoked."""
    application = authorisation.registration.application
    scopes = grant_of(authorisation.scope).resources
    provision: dict[str, Any] = {
        "type": "permit",
        "period": {"start": format_instant(authorisation.created_at), "end": format_instant(authorisation.expires_at)},
        "actor": [
            {
                "role": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]
                },
                "reference": {
                    "identifier": {"system": CLIENT_ID_SYSTEM, "value": application.client_id},
                    "display": application.name,
                },
            }
        ],
        "purpose": [{"system": PURPOSE_SYSTEM, "code": Purpose.PERSONAL.value}],
    }
    if all(scope.resource_type for scope in scopes):  # a wildcard scope covers every class: none is listed
        types = sorted({str(scope.resource_type) for scope in scopes})
        provision["class"] = [{"system": "http://hl7.org/fhir/resource-types", "code": name} for name in types]
    return {
        "resourceType": "Consent",
        "identifier": [{"system": AUTHORISATION_SYSTEM, "value": str(authorisation.pk)}],
        "status": "inactive" if authorisation.revoked_at else "active",
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
        },
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]},
            {"coding": [{"system": CONSENT_CATEGORY_SYSTEM, "code": "app-authorisation"}]},
        ],
        "patient": {"reference": authorisation.patient},
        "dateTime": format_instant(authorisation.created_at),
        "performer": [{"reference": authorisation.patient}],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": provision,
    }
