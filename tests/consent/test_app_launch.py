"""SMART standalone launch: the consent screen, the authorization code with PKCE, what the token acts for,
refresh with offline_access only, expiry, revocation from the person's list of apps, and the FHIR Consent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.contracts import Role
from accounts.services import account_assign_role
from consent.contracts import AccessKind, Purpose
from consent.facade import access_for_token, interaction_allowed
from consent.models import AppAuthorisation, ClientKind
from consent.smart.authorisations import app_authorisation_issue
from consent.smart.launch import LaunchRefusedError
from tests.conftest import FhirClient, patient
from tests.consent.launch_helpers import (
    App,
    approve,
    bearer,
    redirected_to_app,
    register_app,
    signed_in,
    token_for,
)
from tests.consent.test_smart_server import back_office as back_office_client
from tests.consent.test_smart_server import basic

pytestmark = pytest.mark.django_db
PERSON_SCOPES = "launch/patient patient/*.rs offline_access"


@pytest.fixture
def hanako(fhir: FhirClient) -> Client:
    """A person signed in, tied to Patient/p1, which is stored."""
    assert fhir.put("/fhir/Patient/p1", patient(id="p1")).status_code == 201
    browser, _ = signed_in("hanako", Role.PERSON, patient="Patient/p1")
    return browser


@pytest.fixture
def app() -> App:
    return register_app(PERSON_SCOPES)


def stored_consent(fhir: FhirClient, authorisation: AppAuthorisation) -> dict[str, Any]:
    response = fhir.get(f"/fhir/{authorisation.consent}")
    assert response.status_code == 200
    return dict(response.json())


def test_the_consent_screen_shows_the_app_its_organisation_and_the_scopes_in_plain_words(hanako, app):
    screen = hanako.get(app.authorize_url(PERSON_SCOPES))

    text = screen.content.decode()
    assert screen.status_code == 200
    assert "Kenko Note" in text
    assert "Organization/kenko" in text
    assert "あなたの すべての記録 を読む・検索する" in text
    assert "read and search your records of every type" in text
    assert [scope for scope, _ in screen.context["offered"]] == ["patient/*.rs", "launch/patient", "offline_access"]


def test_a_person_authorises_an_app_which_reads_their_own_record_with_the_token(hanako, app, fhir):
    token = token_for(hanako, app, PERSON_SCOPES, duration="30d")

    assert token["patient"] == "p1"
    assert set(token["scope"].split()) == set(PERSON_SCOPES.split())
    assert token["refresh_token"]
    assert token["expires_in"] <= 3600
    read = bearer(token["access_token"]).get("/fhir/Patient/p1")
    assert read.status_code == 200, read.content
    assert read.json()["id"] == "p1"
    access = access_for_token(AccessToken.objects.get(token=token["access_token"]))
    assert (access.kind, access.purpose, access.patient) == (AccessKind.PATIENT, Purpose.PERSONAL, "p1")
    assert access.organization == "Organization/kenko"


def test_the_context_comes_from_the_server_never_from_what_the_app_sends(hanako, app, fhir):
    assert fhir.put("/fhir/Patient/p2", patient(id="p2")).status_code == 201
    token = token_for(hanako, app, PERSON_SCOPES)

    client = bearer(token["access_token"])
    assert client.get("/fhir/Patient/p2").status_code == 404
    assert client.get("/fhir/Patient?_id=p2&patient=p2").json().get("total") == 0


def test_an_approval_is_a_fhir_consent_of_the_person(hanako, fhir):
    app = register_app("launch/patient patient/Observation.rs patient/Condition.read")
    token_for(hanako, app, "launch/patient patient/Observation.rs patient/Condition.read", duration="1y")

    authorisation = AppAuthorisation.objects.get()
    consent = stored_consent(fhir, authorisation)
    assert consent["status"] == "active"
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["patient"]["reference"] == "Patient/p1"
    provision = consent["provision"]
    assert provision["type"] == "permit"
    assert provision["actor"][0]["reference"]["identifier"] == {
        "system": "https://tsunagi.example.jp/fhir/NamingSystem/client-id",
        "value": app.client_id,
    }
    assert [item["code"] for item in provision["class"]] == ["Condition", "Observation"]
    assert (authorisation.expires_at - authorisation.created_at) == timedelta(days=365)
    assert provision["period"]["end"].startswith(str(timezone.localtime(authorisation.expires_at).year))


def test_unticked_scopes_are_not_granted_and_the_token_is_refused_beyond_them(hanako, fhir):
    scope = "launch/patient patient/Patient.rs patient/Observation.rs"
    app = register_app(scope)

    token = token_for(hanako, app, scope, untick=("patient/Patient.rs",))

    assert set(token["scope"].split()) == {"launch/patient", "patient/Observation.rs"}
    assert bearer(token["access_token"]).get("/fhir/Patient/p1").status_code == 403  # insufficient scope
    assert bearer(token["access_token"]).get("/fhir/Observation").status_code == 200


def test_denying_or_unticking_every_data_scope_sends_access_denied(hanako, app):
    assert approve(hanako, app, PERSON_SCOPES, allow=False)["error"] == ["access_denied"]
    unticked = approve(hanako, app, PERSON_SCOPES, untick=("patient/*.rs",))
    assert unticked["error"] == ["access_denied"]
    assert not AppAuthorisation.objects.exists()


@pytest.mark.parametrize(
    ("registered", "asked", "allowed", "refused"),
    [
        ("patient/*.read", "patient/Patient.r", ("Patient", "r"), ("Observation", "s")),  # v2 within a v1 grant
        ("patient/*.rs", "patient/Observation.read", ("Observation", "s"), ("Observation", "c")),  # v1 within v2
    ],
)
def test_v1_and_v2_scopes_map_to_the_same_permissions(hanako, registered, asked, allowed, refused):
    app = register_app(registered)

    token = token_for(hanako, app, asked)

    access = access_for_token(AccessToken.objects.get(token=token["access_token"]))
    assert interaction_allowed(access, *allowed)
    assert not interaction_allowed(access, *refused)


def test_a_scope_beyond_the_registration_is_refused(hanako):
    app = register_app("patient/Observation.rs")

    response = hanako.get(app.authorize_url("patient/*.rs"))

    assert redirected_to_app(response)["error"] == ["invalid_scope"]


@pytest.mark.parametrize("aud", ["https://elsewhere.example.jp/fhir", ""])
def test_a_wrong_or_missing_audience_is_refused(hanako, app, aud):
    response = hanako.get(app.authorize_url(PERSON_SCOPES, aud=aud))

    answer = redirected_to_app(response)
    assert answer["error"] == ["invalid_request"]
    assert "wrong audience" in answer["error_description"][0]
    assert not AppAuthorisation.objects.exists()


def test_a_public_client_must_use_pkce_with_s256(hanako, app):
    for missing in ({"code_challenge": ""}, {"code_challenge_method": "plain"}):
        assert redirected_to_app(hanako.get(app.authorize_url(PERSON_SCOPES, **missing)))["error"] == [
            "invalid_request"
        ]


@pytest.mark.parametrize("verifier", ["", "a-verifier-that-does-not-match-the-challenge-at-all-0123456789"])
def test_a_code_without_its_pkce_verifier_is_refused(hanako, app, verifier):
    code = approve(hanako, app, PERSON_SCOPES)["code"][0]

    response = app.exchange(code, code_verifier=verifier)

    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_request")
    assert app.exchange(code).status_code == 200  # the app holding the verifier
    assert app.exchange(code).status_code == 400  # a code is exchanged once at most


def test_a_confidential_app_authenticates_with_its_secret(hanako):
    app = register_app("patient/*.rs", kind=ClientKind.CONFIDENTIAL)
    code = approve(hanako, app, "patient/*.rs")["code"][0]

    assert App(app.client_id, "wrong-secret", app.verifier).exchange(code).status_code == 401
    code = approve(hanako, app, "patient/*.rs")["code"][0]
    assert app.exchange(code).status_code == 200


def test_no_refresh_token_without_offline_access(hanako, app):
    token = token_for(hanako, app, "launch/patient patient/*.rs")

    assert "refresh_token" not in token


def test_a_refresh_token_is_rotated_on_use(hanako, app):
    token = token_for(hanako, app, PERSON_SCOPES)

    refreshed = app.refresh(token["refresh_token"])

    assert refreshed.status_code == 200, refreshed.content
    body = refreshed.json()
    assert body["patient"] == "p1"
    assert body["refresh_token"] != token["refresh_token"]
    assert bearer(body["access_token"]).get("/fhir/Patient/p1").status_code == 200
    assert app.refresh(token["refresh_token"]).status_code == 400  # the old one is spent


def test_an_expired_token_or_authorisation_is_refused(hanako, app):
    token = token_for(hanako, app, PERSON_SCOPES)
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert bearer(token["access_token"]).get("/fhir/Patient/p1").status_code == 401

    fresh = token_for(hanako, app, PERSON_SCOPES)
    AppAuthorisation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(fresh["access_token"]).get("/fhir/Patient/p1").status_code == 401
    assert app.refresh(fresh["refresh_token"]).status_code == 400  # cannot outlive the authorisation


def test_tokens_never_outlive_the_chosen_duration(hanako, app):
    token = token_for(hanako, app, PERSON_SCOPES, duration="1h")
    authorisation = AppAuthorisation.objects.get()
    authorisation.expires_at = timezone.now() + timedelta(minutes=10)
    authorisation.save()

    refreshed = app.refresh(token["refresh_token"]).json()

    assert refreshed["expires_in"] <= 600
    assert AccessToken.objects.get(token=refreshed["access_token"]).expires <= authorisation.expires_at


def test_revoking_an_app_on_the_apps_page_stops_its_tokens_and_ends_the_consent(hanako, app, fhir):
    token = token_for(hanako, app, PERSON_SCOPES)
    authorisation = AppAuthorisation.objects.get()
    listing = hanako.get("/apps/")
    assert "Kenko Note" in listing.content.decode()

    assert hanako.post(f"/apps/{authorisation.pk}/revoke").status_code == 302

    assert bearer(token["access_token"]).get("/fhir/Patient/p1").status_code == 401
    assert app.refresh(token["refresh_token"]).status_code == 400
    assert stored_consent(fhir, authorisation)["status"] == "inactive"
    assert "取り消し済み / revoked" in hanako.get("/apps/").content.decode()


def test_introspection_names_the_patient_and_follows_the_authorisation(hanako, app):
    token = token_for(hanako, app, PERSON_SCOPES)
    resource_server, secret = back_office_client()

    def introspect() -> dict[str, Any]:
        response = Client().post(
            "/auth/introspect", {"token": token["access_token"]}, headers=basic(resource_server, secret)
        )
        return dict(response.json())

    assert introspect()["patient"] == "p1"
    account_assign_role(account=AppAuthorisation.objects.get().user.account, role=None)
    assert introspect() == {"active": False}


def test_one_cannot_revoke_someone_elses_authorisation(hanako, app):
    token_for(hanako, app, PERSON_SCOPES)
    other, _ = signed_in("jiro", Role.PERSON, patient="Patient/p9")

    assert other.post(f"/apps/{AppAuthorisation.objects.get().pk}/revoke").status_code == 404
    assert "Kenko Note" not in other.get("/apps/").content.decode()


def test_a_person_who_loses_the_role_loses_the_apps_tokens(hanako, app):
    token = token_for(hanako, app, PERSON_SCOPES)
    account = AppAuthorisation.objects.get().user.account

    account_assign_role(account=account, role=None)

    assert bearer(token["access_token"]).get("/fhir/Patient/p1").status_code == 401


def test_an_app_cannot_skip_the_consent_screen(hanako, app):
    token_for(hanako, app, PERSON_SCOPES)

    again = hanako.get(app.authorize_url(PERSON_SCOPES, approval_prompt="auto"))

    assert again.status_code == 200
    assert "offered" in again.context


def test_signing_in_is_required_first():
    app = register_app(PERSON_SCOPES)

    response = Client().get(app.authorize_url(PERSON_SCOPES))

    assert response.status_code == 302
    assert response["Location"].startswith("/oidc/authenticate/?next=/auth/authorize")


@pytest.mark.parametrize(
    ("role", "ties", "purpose"),
    [
        (Role.CLINICIAN, {"organization": "Organization/h1", "practitioner": "Practitioner/d1"}, Purpose.TREATMENT),
        (Role.WELFARE_OFFICER, {"municipality": "131016"}, Purpose.WELFARE_SUPPORT),
    ],
)
def test_staff_get_user_scopes_acting_with_their_ties(role, ties, purpose):
    browser, account = signed_in("staff", role, **ties)
    app = register_app("user/*.rs offline_access")

    token = token_for(browser, app, "user/*.rs")

    assert "patient" not in token
    access = access_for_token(AccessToken.objects.get(token=token["access_token"]))
    assert (access.kind, access.purpose, access.role) == (AccessKind.USER, purpose, role.value)
    assert access.subject == f"{account.issuer}|{account.subject}"
    assert access.organization == ties.get("organization")
    assert access.practitioner == ties.get("practitioner")
    assert access.municipality == ties.get("municipality")
    assert interaction_allowed(access, "Observation", "s")
    assert not AppAuthorisation.objects.get().consent  # a staff member's approval is no person's consent


@pytest.mark.parametrize(
    ("role", "ties", "scope", "reason"),
    [
        (None, {}, "patient/*.rs", "no role"),
        (Role.CLINICIAN, {"organization": "Organization/h1", "practitioner": "Practitioner/d1"},
         "launch/patient patient/*.rs", "EHR launch"),
        (Role.DATA_STEWARD, {}, "user/*.rs", "steward pages"),
        (Role.PERSON, {"patient": "Patient/p1"}, "user/*.rs", "patient/ scopes only"),
    ],
)  # fmt: skip
def test_accounts_that_cannot_authorise_the_request_are_refused_clearly(role, ties, scope, reason):
    browser, _ = signed_in("someone", role, **ties)
    app = register_app("launch/patient patient/*.rs user/*.rs")

    screen = browser.get(app.authorize_url(scope))

    assert screen.status_code == 403
    assert reason in screen.content.decode()
    assert "error=access_denied" in screen.context["back_to_app"]
    form = {**screen.context["form"].initial, "granted": scope.split(), "duration": "1h", "allow": "true"}
    posted = browser.post(app.authorize_url(scope), {k: v for k, v in form.items() if v is not None})
    assert redirected_to_app(posted)["error"] == ["access_denied"]
    assert not AppAuthorisation.objects.exists()


def test_a_token_acts_only_in_the_scope_context_of_its_kind(hanako):
    app = register_app("patient/*.rs user/*.rs")
    token = token_for(hanako, app, "patient/*.rs")
    access = access_for_token(AccessToken.objects.get(token=token["access_token"]))
    user_scoped = type(access)(**{**access.__dict__, "scope": "user/*.rs"})

    assert interaction_allowed(access, "Patient", "r")
    assert not interaction_allowed(user_scoped, "Patient", "r")  # user/ scopes do not serve a pinned person


def test_an_approval_recorded_without_the_screen_is_the_one_the_screen_records(fhir):
    """Tests and benchmarks seed approved apps with app_authorisation_issue: the same authorisation, Consent and
    token context as through the consent screen, and the same refusals."""
    assert fhir.put("/fhir/Patient/p1", patient(id="p1")).status_code == 201
    _, person = signed_in("hanako", Role.PERSON, patient="Patient/p1")
    app = register_app(PERSON_SCOPES)

    token = app_authorisation_issue(
        client_id=app.client_id, user=person.user, scope=PERSON_SCOPES, lasts=timedelta(days=30)
    )

    authorisation = AppAuthorisation.objects.get()
    assert (authorisation.patient, authorisation.expires_at) == ("Patient/p1", token.expires)
    assert stored_consent(fhir, authorisation)["status"] == "active"
    access = access_for_token(token)
    assert (access.kind, access.purpose, access.patient) == (AccessKind.PATIENT, Purpose.PERSONAL, "p1")
    assert bearer(token.token).get("/fhir/Patient/p1").status_code == 200
    _, clinician = signed_in("dr", Role.CLINICIAN, organization="Organization/h1", practitioner="Practitioner/d1")
    with pytest.raises(LaunchRefusedError, match="EHR launch"):
        app_authorisation_issue(
            client_id=app.client_id, user=clinician.user, scope=PERSON_SCOPES, lasts=timedelta(days=1)
        )
