"""An account is a Django user found by (issuer, subject), never by e-mail, with the role it acts in."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.contracts import Role

ROLE_CHOICES = [(role.value, role.value.replace("_", " ")) for role in Role]


class Account(models.Model):
    """The platform's record of a person or staff member who signs in through OpenID Connect.

    A new subject gets an account without a role: it may sign in but sees nothing until an administrator
    gives it one. The ties a role needs are checked by the database, so no clinician acts for no one.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    role = models.CharField(max_length=32, choices=ROLE_CHOICES, blank=True)
    patient = models.CharField(max_length=100, blank=True, help_text="Patient/ID of a person's own record")
    organization = models.CharField(max_length=100, blank=True, help_text="Organization/ID a clinician works for")
    practitioner = models.CharField(max_length=100, blank=True, help_text="Practitioner/ID of a clinician")
    municipality = models.CharField(max_length=6, blank=True, help_text="全国地方公共団体コード of a welfare office")
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="account_once_per_issuer_subject"),
            models.CheckConstraint(
                name="account_role_has_its_ties",
                condition=~Q(role=Role.PERSON.value, patient="")
                & ~Q(role=Role.CLINICIAN.value, organization="")
                & ~Q(role=Role.CLINICIAN.value, practitioner="")
                & ~Q(role=Role.WELFARE_OFFICER.value, municipality=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.role or 'no role'})"
