"""What other apps learn of a signed-in account."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles the platform knows; each is tied to what it acts for (see accounts.models.Account)."""

    PERSON = "person"  # a resident: their own records (tied to their Patient)
    CLINICIAN = "clinician"  # tied to an Organization and a Practitioner
    WELFARE_OFFICER = "welfare_officer"  # tied to a municipality
    DATA_STEWARD = "data_steward"
    ADMINISTRATOR = "administrator"


@dataclass(frozen=True)
class SignedInAccount:
    """What the authorisation server needs of a signed-in account: who it is and what its role ties it to."""

    subject: str  # "issuer|sub", stable across sign-ins
    role: Role | None
    patient: str  # "Patient/ID" of a person's own record, else ""
    organization: str
    practitioner: str
    municipality: str
