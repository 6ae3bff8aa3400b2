"""`seed_demo_accounts` gives the demo provider's accounts their roles, tied to the loaded region."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, source_patient, store_and_link

ISSUER = "http://127.0.0.1:8001/o"
pytestmark = pytest.mark.django_db


def region_with_register(folder, municipality="229990"):
    register = {
        "code": "municipality",
        "kind": "resident-register",
        "organization": {"name": "綱木市", "identifier": {"system": "urn:example", "value": municipality}},
    }
    (folder / "sources.json").write_text(json.dumps({"sources": [register]}), encoding="utf-8")
    return folder


def test_the_resident_is_the_person_most_sources_know(tmp_path):
    store_and_link(patient(HOSPITAL, "2", kanji="鈴木 一郎", kana="スズキ イチロウ", birth="1950-01-01", gender="male"))
    store_and_link(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1"))  # one person at two sources
    best = source_patient(HOSPITAL, "1").person_record.person
    assert best.records.count() == 2

    call_command("seed_demo_accounts", "--region", str(region_with_register(tmp_path)), "--issuer", ISSUER)

    roles = {account.subject: account for account in Account.objects.filter(issuer=ISSUER)}
    assert roles["hanako"].role == "person"
    assert roles["hanako"].patient == f"Patient/{best.golden}"
    assert (roles["welfare-ito"].role, roles["welfare-ito"].municipality) == ("welfare_officer", "229990")
    assert roles["steward-kato"].user.is_staff
    assert roles["admin-mori"].user.is_superuser
    assert roles["dr-sato"].role == ""


def test_seeding_twice_changes_nothing(tmp_path):
    region = region_with_register(tmp_path)
    call_command("seed_demo_accounts", "--region", str(region), "--issuer", ISSUER)
    call_command("seed_demo_accounts", "--region", str(region), "--issuer", ISSUER)

    assert Account.objects.count() == 4  # no person stored: the resident gets no role and no account yet


def test_a_folder_that_is_not_a_region_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match="not a generated region"):
        call_command("seed_demo_accounts", "--region", str(tmp_path))
