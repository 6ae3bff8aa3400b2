"""`manage.py identity_link` and the Celery task: link what is queued and say what they did."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from federation.facade import identity_queue_size
from federation.models import Person
from federation.tasks import link_persons
from tests.federation.identity.stored import HOSPITAL, PHARMACY, patient, store

pytestmark = pytest.mark.django_db


def test_identity_link_json_counts_and_times_the_batches():
    store(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1"))
    out = StringIO()
    call_command("identity_link", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["new_persons"], report["linked"], report["records"]) == (1, 1, 2)
    assert report["batch_median_s"] > 0
    assert report["batch_p95_s"] >= report["batch_median_s"]
    assert identity_queue_size() == 0


def test_identity_link_says_what_it_did_in_one_line():
    store(patient(HOSPITAL, "1"))
    out = StringIO()
    call_command("identity_link", stdout=out, stderr=StringIO())
    assert out.getvalue().startswith("linked 0 records to a known person, 1 new persons")


def test_the_celery_task_links_the_queue():
    store(patient(HOSPITAL, "1"), patient(HOSPITAL, "2", kanji="綱木 桃子", kana="ツナギ モモコ"))
    assert link_persons() == 2
    assert Person.objects.count() == 2
    assert link_persons() == 0
