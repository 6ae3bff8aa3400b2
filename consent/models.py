"""What consent keeps: the apps registered with the authorisation server, the client assertions seen, and the
authorisations people give apps with the tokens issued under them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken

from consent.audit.models import AuditRecord  # the audit trail's table belongs to this app

__all__ = [
    "AppAuthorisation",
    "AuditRecord",
    "AuthorisedToken",
    "BreakGlass",
    "ClientKind",
    "ClientRegistration",
    "ConsentRule",
    "RuleRefresh",
    "UsedClientAssertion",
]


class ClientKind(models.TextChoices):
    PUBLIC = "public"  # a browser or phone app: no secret, PKCE only
    CONFIDENTIAL = "confidential"  # a server-side app or a back-office system: client_secret_basic
    BACKEND = "backend"  # SMART Backend Services: client_credentials with private_key_jwt


class ClientRegistration(models.Model):
    """A registered app: django-oauth-toolkit's Application plus what SMART needs of it."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="registration")
    kind = models.CharField(max_length=16, choices=ClientKind.choices)
    organization = models.CharField(max_length=100, help_text="Organization/ID that answers for the app")
    scopes = models.TextField(help_text="the SMART scopes the app may ask for, space-separated")
    jwks = models.JSONField(null=True, blank=True, help_text="a backend client's public keys (JWK Set)")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.application.name} ({self.kind})"


class UsedClientAssertion(models.Model):
    """A backend client's assertion id (jti), kept until the assertion expires so it cannot be replayed."""

    registration = models.ForeignKey(ClientRegistration, on_delete=models.CASCADE)
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registration", "jti"], name="client_assertion_used_once")]

    def __str__(self) -> str:
        return f"{self.registration_id}:{self.jti}"


class AppAuthorisation(models.Model):
    """A signed-in person's or staff member's approval of an app on the consent screen: the scopes they left
    ticked, for how long, and what the app's tokens act for (kept here, server-side, never taken from the app).

    A person's approval is also a FHIR Consent (`consent`), so it shows in the person's one list of consents."""

    registration = models.ForeignKey(ClientRegistration, on_delete=models.CASCADE, related_name="authorisations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_authorisations")
    subject = models.CharField(max_length=600, help_text="the account as issuer|sub")
    role = models.CharField(max_length=32)
    patient = models.CharField(max_length=100, blank=True, help_text="Patient/ID the tokens are pinned to")
    organization = models.CharField(max_length=100, blank=True)
    practitioner = models.CharField(max_length=100, blank=True)
    municipality = models.CharField(max_length=6, blank=True)
    scope = models.TextField(help_text="the scopes granted, space-separated")
    grant = models.OneToOneField(
        Grant, on_delete=models.SET_NULL, null=True, blank=True, help_text="the authorization code, until exchanged"
    )
    consent = models.CharField(max_length=100, blank=True, help_text="Consent/ID recording a person's approval")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.registration_id} for {self.subject}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuthorisedToken(models.Model):
    """A token pair issued under an app authorisation; a refresh makes a new row for the new pair."""

    authorisation = models.ForeignKey(AppAuthorisation, on_delete=models.CASCADE, related_name="tokens")
    access_token = models.OneToOneField(
        AccessToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="authorised"
    )
    refresh_token = models.OneToOneField(
        RefreshToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="authorised"
    )

    def __str__(self) -> str:
        return f"token {self.access_token_id} under {self.authorisation_id}"


class ConsentRule(models.Model):
    """One provision of a Consent in force (consent.policy.Rule), compiled for one Patient of the person: a row per
    Patient id the person has (golden and sources), so the access filter joins it straight from a reference.

    Rebuilt per person from their Consent resources whenever a Consent is written or the person's links change
    (consent.rules); never edited by hand."""

    person = models.CharField(max_length=64, help_text="the person's golden Patient id (the Patient id if unlinked)")
    patient = models.CharField(max_length=64)
    consent = models.CharField(max_length=64)
    depth = models.PositiveSmallIntegerField()
    effect = models.CharField(max_length=6)
    actor = models.CharField(max_length=160, null=True)  # noqa: DJ001  # NULL: any actor
    purposes = ArrayField(models.CharField(max_length=32), null=True)
    resource_types = ArrayField(models.CharField(max_length=64), null=True)
    # any of these labels, each as a one-label array ([{"system": ..., "code": ...}]) that meta.security contains
    labels = ArrayField(models.JSONField(), null=True)
    dated = models.BooleanField(default=False)  # whether data_low/data_high bound the data's dates
    data_low = models.DateTimeField(null=True)
    data_high = models.DateTimeField(null=True)
    valid_from = models.DateTimeField(null=True)
    valid_to = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "effect"], name="consent_rule_patient"),
            models.Index(fields=["person"], name="consent_rule_person"),
        ]

    def __str__(self) -> str:
        return f"{self.effect} for Patient/{self.patient} from Consent/{self.consent}"


# SQL the access filter's callers share, so the two ways of asking (a query of its own, a subquery of the token's
# lookup) cannot drift apart:
RULES_PENDING_SQL = "EXISTS (SELECT 1 FROM consent_rulerefresh)"  # rules wait to be rebuilt


def emergency_patients_sql(subject: str) -> str:
    """The sorted Patient ids the unexpired break-the-glass declarations of the account `subject` (an SQL
    expression: a placeholder or a column of the caller's statement) cover, as a text[] (empty: none)."""
    return (
        "(SELECT coalesce(array_agg(DISTINCT covered ORDER BY covered), '{}') FROM consent_breakglass g, "  # noqa: S608
        f"unnest(g.patients) AS covered WHERE g.subject = {subject} AND g.expires_at > now())"
    )


class RuleRefresh(models.Model):
    """A Patient whose person's rules must be rebuilt: database triggers add one when a Consent row is written
    (by whichever write path) or a person's links change; the access filter rebuilds them before it reads."""

    patient = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"refresh rules of Patient/{self.patient}"


class BreakGlass(models.Model):
    """A clinician's declaration of emergency treatment for one person: for `expires_at - declared_at` it passes
    the person's deny provisions for that clinician's account. Kept for the audit trail and the person to see."""

    subject = models.CharField(max_length=255, help_text="the declaring account, issuer|sub")
    practitioner = models.CharField(max_length=100, blank=True)
    organization = models.CharField(max_length=100, blank=True)
    patient = models.CharField(max_length=64, help_text="the Patient id named in the declaration")
    patients = ArrayField(models.CharField(max_length=64), help_text="every Patient id of the person, when declared")
    reason = models.TextField()
    declared_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["subject", "expires_at"], name="break_glass_subject")]

    def __str__(self) -> str:
        return f"break-the-glass for Patient/{self.patient} until {self.expires_at:%Y-%m-%d %H:%M}"
