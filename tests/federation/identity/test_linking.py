"""Linking on every Patient write: rules, golden records, source links, the queue, and what a re-send does."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from federation.facade import identity_link_all, identity_queue_size
from federation.identity.golden import GOLDEN_TAG, PERSON_SYSTEM
from federation.models import (
    IdentityAction,
    IdentityDecision,
    LinkRule,
    MatchReview,
    Person,
    PersonRecord,
    Resource,
    ResourceVersion,
)
from federation.storage import services
from tests.federation.identity.stored import (
    ACCESS,
    HOSPITAL,
    PHARMACY,
    REGISTER,
    patient,
    source_patient,
    store,
    store_and_link,
)

pytestmark = pytest.mark.django_db
A40_FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "hl7v2" / "ADT__utf8-crlf-stay-and-merge.hl7"


def person_of(system: str, number: str) -> Person:
    return PersonRecord.objects.get(patient=source_patient(system, number)).person


def golden_of(system: str, number: str) -> Resource:
    return Resource.objects.get(resource_type="Patient", logical_id=person_of(system, number).golden)


def test_every_patient_write_is_queued_and_linking_empties_the_queue():
    store(patient(HOSPITAL, "0000000001"), patient(PHARMACY, "P-1"))
    assert identity_queue_size() == 2
    counts = identity_link_all()
    assert (counts.new_persons, counts.linked) == (1, 1)
    assert identity_queue_size() == 0  # the linker's own writes (golden, links) are not queued again


def test_the_same_person_from_two_sources_is_one_person_with_a_golden_record():
    store_and_link(
        patient(REGISTER, "1000000001", kanji="髙橋 花子", kana="タカハシ ハナコ"),
        patient(HOSPITAL, "0000000001", kanji="高橋 花子", kana="タカハシ ハナコ"),
        patient(PHARMACY, "P-1", kanji="高橋 花子", kana="ﾀｶﾊｼ ﾊﾅｺ", phone=None),
    )
    person = person_of(HOSPITAL, "0000000001")
    assert person == person_of(PHARMACY, "P-1") == person_of(REGISTER, "1000000001")
    golden = golden_of(HOSPITAL, "0000000001").content
    assert GOLDEN_TAG in golden["meta"]["tag"]
    assert golden["identifier"] == [{"use": "official", "system": PERSON_SYSTEM, "value": str(person.pk)}]
    assert golden["name"][0]["text"] == "髙橋 花子"  # the register is the master record
    sources = {
        source_patient(system, number).logical_id
        for system, number in ((REGISTER, "1000000001"), (HOSPITAL, "0000000001"), (PHARMACY, "P-1"))
    }
    assert {link["other"]["reference"] for link in golden["link"]} == {f"Patient/{id_}" for id_ in sources}
    assert {link["type"] for link in golden["link"]} == {"seealso"}
    hospital = source_patient(HOSPITAL, "0000000001").content
    assert {"other": {"reference": f"Patient/{golden['id']}"}, "type": "refer"} in hospital["link"]
    assert hospital["identifier"][0] == {"system": HOSPITAL, "value": "0000000001"}


def test_a_link_decision_keeps_its_score_and_the_fields_that_decided_it():
    store_and_link(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1", kana="ツナギ ハナコ", phone=None))
    record = PersonRecord.objects.get(patient=source_patient(PHARMACY, "P-1"))
    assert record.rule == LinkRule.PROBABILISTIC
    assert record.score is not None
    assert record.score > 0
    fields = {item["field"] for item in record.explanation}
    assert {"birth_date", "sex"} <= fields
    decision = IdentityDecision.objects.get(record=record)
    assert (decision.action, decision.actor, decision.score) == (IdentityAction.LINK, "identity-linker", record.score)


def test_twins_are_two_persons_and_not_even_a_review():
    store_and_link(
        patient(HOSPITAL, "1", kanji="綱木 花子", kana="ツナギ ハナコ"),
        patient(HOSPITAL, "2", kanji="綱木 桃子", kana="ツナギ モモコ"),
    )
    assert person_of(HOSPITAL, "1") != person_of(HOSPITAL, "2")
    assert not MatchReview.objects.exists()


def test_namesakes_born_on_other_days_are_two_persons():
    store_and_link(
        patient(HOSPITAL, "1", birth="1942-05-17", postal="428-0011", phone="0547-11-2233"),
        patient(PHARMACY, "P-1", birth="1968-11-02", postal="428-0021", phone="090-1111-2222"),
    )
    assert person_of(HOSPITAL, "1") != person_of(PHARMACY, "P-1")


def test_the_same_insured_person_key_links_whatever_the_score():
    store_and_link(
        patient(HOSPITAL, "1", member_id="00229989:つ２６:0000075:00"),
        patient(PHARMACY, "P-1", kana="ツナギ ハナ", address=None, phone=None, member_id="00229989:つ２６:0000075:00"),
    )
    record = PersonRecord.objects.get(patient=source_patient(PHARMACY, "P-1"))
    assert record.rule == LinkRule.INSURED_KEY
    assert record.person == person_of(HOSPITAL, "1")


def test_a_source_merge_link_joins_the_records_it_names():
    store_and_link(patient(HOSPITAL, "1", kanji="綱木 一郎", kana="ツナギ イチロウ", gender="male"))
    prior = source_patient(HOSPITAL, "1")
    store_and_link(
        patient(
            HOSPITAL,
            "2",
            kanji="別名 二郎",
            kana="ベツメイ ジロウ",
            gender="male",
            birth="1950-01-01",
            link=[{"other": {"reference": f"Patient/{prior.logical_id}"}, "type": "replaces"}],
        )
    )
    record = PersonRecord.objects.get(patient=source_patient(HOSPITAL, "2"))
    assert record.rule == LinkRule.SOURCE_LINK
    assert record.person == person_of(HOSPITAL, "1")


def test_two_records_of_one_person_in_the_same_batch_link_to_each_other():
    store(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1"))
    identity_link_all()
    assert Person.objects.count() == 1


def test_a_resent_patient_keeps_its_link_and_makes_no_new_version():
    store_and_link(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1"))
    hospital = source_patient(HOSPITAL, "1")
    versions = ResourceVersion.objects.filter(resource=hospital).count()
    store(patient(HOSPITAL, "1"))  # the source sends it again, without the platform's link
    hospital.refresh_from_db()
    assert ResourceVersion.objects.filter(resource=hospital).count() == versions
    assert identity_queue_size() == 0


def test_a_changed_patient_keeps_its_person_and_its_link():
    store_and_link(patient(HOSPITAL, "1"), patient(PHARMACY, "P-1"))
    person = person_of(HOSPITAL, "1")
    store(patient(HOSPITAL, "1", postal="428-0099", phone="0547-99-0000"))  # moved
    counts = identity_link_all()
    assert counts.refreshed == 1
    assert person_of(HOSPITAL, "1") == person
    hospital = source_patient(HOSPITAL, "1").content
    assert {"other": {"reference": f"Patient/{person.golden}"}, "type": "refer"} in hospital["link"]
    record = PersonRecord.objects.get(patient=source_patient(HOSPITAL, "1"))
    assert "4280099" in record.features["postal_codes"]


def test_a_rest_update_of_a_linked_patient_keeps_the_link():
    store_and_link(patient(HOSPITAL, "1"))
    hospital = source_patient(HOSPITAL, "1")
    body = {**patient(HOSPITAL, "1", phone="0547-00-0000"), "id": hospital.logical_id}
    result = services.resource_update(
        access=ACCESS, resource_type="Patient", logical_id=hospital.logical_id, resource=body
    )
    assert result.version.content is not None
    assert [link["type"] for link in result.version.content["link"]] == ["refer"]


def test_deleting_the_last_source_patient_deletes_the_golden_record():
    store_and_link(patient(HOSPITAL, "1"))
    hospital = source_patient(HOSPITAL, "1")
    golden = golden_of(HOSPITAL, "1")
    services.resource_delete(access=ACCESS, resource_type="Patient", logical_id=hospital.logical_id)
    counts = identity_link_all()
    assert counts.unlinked == 1
    assert not PersonRecord.objects.exists()
    golden.refresh_from_db()
    assert golden.is_deleted
    assert IdentityDecision.objects.filter(action=IdentityAction.UNLINK).count() == 1


def test_a_possible_match_makes_a_new_person_and_a_review_item():
    store_and_link(patient(HOSPITAL, "1", address=None, phone=None))
    # same name, a birth date one digit off, nothing else to go on: not enough to link, too much to ignore
    store_and_link(patient(PHARMACY, "P-1", birth="1942-05-18", address=None, phone=None))
    assert person_of(HOSPITAL, "1") != person_of(PHARMACY, "P-1")
    review = MatchReview.objects.get()
    assert review.candidate == person_of(HOSPITAL, "1")
    assert review.record.patient == source_patient(PHARMACY, "P-1")
    assert review.status == "open"


def test_a_record_without_a_name_is_never_linked_on_its_score():
    store_and_link(patient(HOSPITAL, "1"))
    nameless = patient(PHARMACY, "P-1")
    del nameless["name"]
    store_and_link(nameless)
    assert person_of(PHARMACY, "P-1") != person_of(HOSPITAL, "1")
    assert MatchReview.objects.get().candidate == person_of(HOSPITAL, "1")


def test_an_hl7_a40_merge_joins_two_records_the_linker_had_kept_apart(tmp_path):
    """The prior record (00777) and the surviving one (00042) first arrive as two people; the hospital's A40
    then says they are one patient, and the two persons are merged (decision by the linker, undoable)."""
    call_command(
        "add_source", "--code", "hospital-a40", "--connector", "hl7v2", "--organization-name", "綱木病院",
        "--organization-identifier", "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no|1312345670",
        stdout=StringIO(),
    )  # fmt: skip
    message = A40_FIXTURE.read_bytes()
    before, merge = message.split(b"MSH|^~\\&|HIS|1312345670|GW|1312345670|20240601090000")
    prior = before.replace(b"00042^^^^PI", b"00777^^^^PI").replace("山田^花子".encode(), "佐藤^花子".encode())
    prior = prior.replace("ヤマダ^ハナコ".encode(), "サトウ^ハナコ".encode()).replace(b"19400229", b"19410101")
    (tmp_path / "1-prior.hl7").write_bytes(prior)
    (tmp_path / "2-stay.hl7").write_bytes(before)
    ingest = ("ingest", "--connector", "hl7v2", "--source", "hospital-a40", "--json")
    call_command(*ingest, str(tmp_path / "1-prior.hl7"), str(tmp_path / "2-stay.hl7"), stdout=StringIO())
    system = "urn:oid:1.2.392.100495.20.3.51.11312345670"
    assert person_of(system, "00042") != person_of(system, "00777")

    (tmp_path / "3-merge.hl7").write_bytes(b"MSH|^~\\&|HIS|1312345670|GW|1312345670|20240601090000" + merge)
    call_command(*ingest, str(tmp_path / "3-merge.hl7"), stdout=StringIO())

    assert person_of(system, "00042") == person_of(system, "00777")
    merge_decision = IdentityDecision.objects.get(action=IdentityAction.MERGE)
    assert merge_decision.actor == "identity-linker"
    assert "A40" in merge_decision.reason
