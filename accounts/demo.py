"""The roles of the demo provider's accounts (idp.seed names them), for `make demo`."""

from __future__ import annotations

import json
from pathlib import Path

from accounts.contracts import Role
from accounts.models import Account
from accounts.services import account_assign_role, account_register
from federation.facade import best_known_persons


def demo_accounts_seed(*, issuer: str, region: Path) -> list[Account]:
    """Give the demo accounts their roles: the resident is the person most sources know, the welfare
    officer works for the region's municipality, the steward and the administrator need no ties. The
    clinician signs in without a role until accounts can be tied to a practitioner of the region."""
    municipality = _municipality_code(region)
    resident = best_known_persons(1)
    seeded = []
    if resident:
        seeded.append(_seed(issuer, "hanako", Role.PERSON, patient=resident[0]))
    if municipality:
        seeded.append(_seed(issuer, "welfare-ito", Role.WELFARE_OFFICER, municipality=municipality))
    seeded.append(_seed(issuer, "steward-kato", Role.DATA_STEWARD))
    seeded.append(_seed(issuer, "admin-mori", Role.ADMINISTRATOR))
    account_register(issuer=issuer, subject="dr-sato")
    return seeded


def _seed(issuer: str, subject: str, role: Role, **ties: str) -> Account:
    return account_assign_role(account=account_register(issuer=issuer, subject=subject), role=role, **ties)


def _municipality_code(region: Path) -> str:
    """The resident register's organisation identifier in the region's sources.json: the municipality code."""
    sources = json.loads((region / "sources.json").read_text(encoding="utf-8"))["sources"]
    register = next((source for source in sources if source["kind"] == "resident-register"), None)
    return str(register["organization"]["identifier"]["value"]) if register else ""
