"""What other apps learn of a signed-in account."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles the platform knows; each is tied to what it acts for (see accounts.models.Account)."""

    PERSON = "person"  # a resident: their own records (tied to their Patient)
    CLINICIAN = "clinician"  # tied to an Organization and a Practitioner
    WELFARE_OFFICER = "welfare_officer"  # tied to a municipality
    DATA_STEWARD = "data_steward"
    ADMINISTRATOR = "administrator"
