"""Standalone launch: what an app may be offered for the signed-in account, decided by its role.

A person authorises patient/ scopes, pinned to their own Patient; a clinician or a welfare officer authorises
user/ scopes, acting with their own ties. Choosing a patient (EHR launch, a patient picker) is not built, so
staff asking for patient/ scopes or launch/patient are refused, as is an account without a role or one whose
work goes through the steward's pages and back-office clients instead of apps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from accounts.contracts import Role, SignedInAccount
from consent.contracts import Purpose
from consent.scopes import ScopeContext, ScopeError, resource_scope

LAUNCH_PATIENT = "launch/patient"
OFFLINE_ACCESS = "offline_access"
PURPOSES = {  # the roles that may authorise apps, and the purpose their tokens act for
    Role.PERSON: Purpose.PERSONAL,
    Role.CLINICIAN: Purpose.TREATMENT,
    Role.WELFARE_OFFICER: Purpose.WELFARE_SUPPORT,
}
DURATIONS = {"1h": timedelta(hours=1), "30d": timedelta(days=30), "1y": timedelta(days=365)}


class LaunchRefusedError(ValueError):
    """Why this account cannot authorise this request (shown to the person, and sent to the app)."""


@dataclass(frozen=True)
class LaunchPlan:
    """The scopes the consent screen offers (the person may untick any) and the Patient the tokens pin to."""

    offered: tuple[str, ...]
    patient: str  # "Patient/ID" for a person, "" for staff


def launch_plan(*, account: SignedInAccount | None, requested: list[str]) -> LaunchPlan:
    """What `account` may authorise of the `requested` scopes (already within the app's registration).
    Scopes that grant nothing here (openid, fhirUser: no ID token is issued) are left out."""
    if account is None or account.role is None:
        raise LaunchRefusedError(
            "アカウントに役割がありません / your account has no role yet, so no app can act for it"
        )
    if account.role not in PURPOSES:
        raise LaunchRefusedError(
            "データスチュワードと管理者はアプリを認可できません / data stewards and administrators work through "
            "the steward pages and back-office clients, not through apps"
        )
    contexts = {_context(scope) for scope in requested} - {None}
    if not contexts:
        raise LaunchRefusedError("アプリはデータへのアクセスを求めていません / the app asked for no access to data")
    if account.role is Role.PERSON:
        if contexts != {ScopeContext.PATIENT}:
            raise LaunchRefusedError(
                "ご本人が認可できるのは patient/ スコープだけです / a person authorises patient/ scopes only"
            )
        pinned = account.patient
    else:
        if contexts != {ScopeContext.USER} or LAUNCH_PATIENT in requested:
            raise LaunchRefusedError(
                "職員は user/ スコープだけを認可できます。患者を選ぶ起動 (EHR launch) はまだありません / staff "
                "authorise user/ scopes only: choosing a patient (EHR launch) is not available"
            )
        pinned = ""
    offered = [scope for scope in requested if _context(scope) is not None]
    offered += [scope for scope in (LAUNCH_PATIENT, OFFLINE_ACCESS) if scope in requested]
    return LaunchPlan(offered=tuple(dict.fromkeys(offered)), patient=pinned)


def _context(scope: str) -> ScopeContext | None:
    try:
        parsed = resource_scope(scope)
    except ScopeError:
        return None
    return parsed.context if parsed else None


@dataclass(frozen=True)
class LaunchChoice:
    """What the person chose on the consent screen, carried to where the authorization code is made."""

    user: Any  # the signed-in Django user
    account: SignedInAccount
    lasts: timedelta
    patient: str
