"""What consent keeps: the apps registered with the authorisation server, and the client assertions seen."""

from __future__ import annotations

from django.db import models
from oauth2_provider.models import Application

from consent.audit.models import AuditRecord  # the audit trail's table belongs to this app

__all__ = ["AuditRecord", "ClientKind", "ClientRegistration", "UsedClientAssertion"]


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
