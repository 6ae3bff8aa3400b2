"""Link queued Patients to persons: on every write of a source Patient, not in a nightly batch.

A database trigger queues every Patient write (federation_linkqueue). The linker takes the queue in batches,
one transaction each, under one advisory lock (two linkers deciding about the same person at once could both
create it). Per new record, in this order: what the source said (Patient.link, an HL7 A40 merge), the
deterministic rule (the same insured-person key), then the Fellegi-Sunter score against the records that share a
blocking key with it, grouped by person. A record that was linked before stays with its person when it changes
(its features and keys are refreshed); moving it is a steward's decision, unless its source now says it is
another record's patient (an A40 merge), which merges the two persons. New records get their `refer` link through
the batch writer; the golden records of the persons touched are written when the queue is empty
(golden_records.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone

from federation.contracts import LinkCounts
from federation.identity import compare
from federation.identity.blocking import blocking_keys
from federation.identity.candidates import Candidate, PersonKey, StoredCandidates, person_scores
from federation.identity.compare import PairScore
from federation.identity.features import PersonFeatures, patient_features
from federation.identity.golden import is_golden, with_golden_link
from federation.identity.golden_records import goldens_refresh_all
from federation.identity.session import (
    copy_rows,
    linker_session,
    patient_put,
    patients_write,
)
from federation.identity.steward import person_merge
from federation.models import (
    BlockingKey,
    IdentityAction,
    LinkQueue,
    LinkRule,
    Person,
    PersonRecord,
    ReferenceIndex,
    Resource,
    ReviewStatus,
)
from federation.search.registry import index_key, parameters_for
from federation.storage.batch import BatchConflictError
from federation.storage.rows import new_logical_id, next_values

LINKER = "identity-linker"
SOURCE_MERGE_REASON = "the source says these records are one patient (Patient.link, e.g. an HL7 ADT^A40 merge)"
BATCH_SIZE = 500
ATTEMPTS = 3


def auto_link_score() -> float:
    configured = settings.IDENTITY_AUTO_LINK_SCORE
    return compare.AUTO_LINK_SCORE if configured is None else float(configured)


def review_score() -> float:
    configured = settings.IDENTITY_REVIEW_SCORE
    return compare.REVIEW_SCORE if configured is None else float(configured)


def identity_queue_size() -> int:
    return LinkQueue.objects.count()


def identity_link_all(*, progress: Callable[[int], None] | None = None) -> LinkCounts:
    """Link until the queue is empty, then write the golden records of the persons that changed; `progress`
    gets the number of queue entries each batch took."""
    report = LinkCounts()
    while True:
        taken, batch = identity_link_queued()
        if not taken:
            break
        report.add(batch)
        if progress is not None:
            progress(taken)
    report.golden_records = goldens_refresh_all()
    return report


def identity_link_queued(*, limit: int = BATCH_SIZE) -> tuple[int, LinkCounts]:
    """Link one batch of the queue in one transaction: how many queue entries it took, and what it did. A
    batch that collides with a writer changing the same Patients is planned again."""
    for attempt in range(ATTEMPTS):
        try:
            with linker_session():
                return _link_batch(limit)
        except (BatchConflictError, OperationalError):
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _link_batch(limit: int) -> tuple[int, LinkCounts]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, resource_id FROM federation_linkqueue ORDER BY id LIMIT %s", [limit])
        queued = cursor.fetchall()
    if not queued:
        return 0, LinkCounts()
    batch = _Batch.load(list(dict.fromkeys(resource_id for _, resource_id in queued)))
    batch.decide()
    batch.write()
    for survivor, merged in sorted(batch.source_merges):
        if not Person.objects.filter(pk__in=(survivor, merged), merged_into__isnull=False).exists():
            person_merge(merged_id=merged, survivor_id=survivor, actor=LINKER, reason=SOURCE_MERGE_REASON)
    LinkQueue.objects.filter(id__in=[queue_id for queue_id, _ in queued]).delete()
    return len(queued), batch.report


class _PersonNumbers(dict[PersonKey, int]):
    """Person pks by batch key: a stored person is its own pk, a new one gets the pk allocated for it."""

    def __missing__(self, key: PersonKey) -> int:
        assert key > 0, "a new person gets its pk before anything refers to it"
        return key


@dataclass
class _Decision:
    patient_pk: int
    person: PersonKey
    rule: LinkRule
    score: float | None
    explanation: list[dict[str, Any]]
    reviews: list[tuple[PersonKey, PairScore]] = field(default_factory=list)


@dataclass
class _Patient:
    pk: int
    logical_id: str
    content: dict[str, Any] | None  # None: deleted
    last_updated: datetime


class _Batch:
    """One batch of queued Patients: loaded, decided in memory, then written in a few statements."""

    def __init__(self, patients: list[_Patient], records: dict[int, PersonRecord]) -> None:
        self.patients = patients
        self.records = records  # by patient pk: the stored records of this batch's Patients
        self.report = LinkCounts()
        self.now = timezone.now()
        self.features: dict[int, PersonFeatures] = {}
        self.keys: dict[int, frozenset[int]] = {}
        self.decisions: dict[int, _Decision] = {}  # new records, by patient pk
        self.unlinked: list[PersonRecord] = []
        self.new_persons = 0
        self.touched: set[PersonKey] = set()
        # (survivor, merged): persons a source says are one (an A40 merge of two records linked apart before)
        self.source_merges: set[tuple[int, int]] = set()

    @classmethod
    def load(cls, resource_ids: list[int]) -> _Batch:
        rows = Resource.objects.filter(pk__in=resource_ids, resource_type="Patient")
        patients = [
            _Patient(row.pk, row.logical_id, None if row.is_deleted else row.content, row.last_updated)
            for row in rows.only("pk", "logical_id", "is_deleted", "content", "last_updated")
        ]
        logical_ids = [patient.logical_id for patient in patients]
        goldens = set(Person.objects.filter(golden__in=logical_ids).values_list("golden", flat=True))
        order = {resource_id: index for index, resource_id in enumerate(resource_ids)}
        patients = sorted(
            (p for p in patients if p.logical_id not in goldens and not (p.content and is_golden(p.content))),
            key=lambda patient: order[patient.pk],
        )
        records = {record.patient_id: record for record in PersonRecord.objects.filter(patient_id__in=order)}
        return cls(patients, records)

    # Deciding

    def decide(self) -> None:
        new = [patient for patient in self.patients if patient.content is not None and patient.pk not in self.records]
        for patient in self.patients:
            if patient.content is not None:
                self.features[patient.pk] = patient_features(patient.content)
                self.keys[patient.pk] = blocking_keys(self.features[patient.pk])
        stored = StoredCandidates.load(set().union(*(self.keys[patient.pk] for patient in new)))
        asserted = _asserted_links([patient for patient in self.patients if patient.content is not None])
        stored_persons = dict(
            PersonRecord.objects.filter(patient_id__in=set().union(*asserted.values())).values_list(
                "patient_id", "person_id"
            )
            if asserted
            else []
        )
        in_batch: dict[int, list[Candidate]] = {}
        for patient in self.patients:
            record = self.records.get(patient.pk)
            if record is not None:
                self.touched.add(record.person_id)
                if patient.content is None:
                    self.unlinked.append(record)
                    self.report.unlinked += 1
                else:
                    self.report.refreshed += 1
                    for pk in asserted.get(patient.pk, ()):
                        other = stored_persons.get(pk)
                        if other is not None and other != record.person_id:
                            self.source_merges.add((min(other, record.person_id), max(other, record.person_id)))
                continue
            if patient.content is None:
                continue
            features = self.features[patient.pk]
            said = {
                person
                for pk in asserted.get(patient.pk, ())
                if (person := self._person_of(pk, stored_persons)) is not None
            }
            decision = self._decide(patient.pk, features, self._candidates(patient.pk, stored, in_batch), said)
            self.decisions[patient.pk] = decision
            self.touched.add(decision.person)
            for key in self.keys[patient.pk]:
                in_batch.setdefault(key, []).append(Candidate(-patient.pk, decision.person, features))

    def _person_of(self, patient_pk: int, stored_persons: dict[int, int]) -> PersonKey | None:
        decision = self.decisions.get(patient_pk)
        return decision.person if decision is not None else stored_persons.get(patient_pk)

    def _candidates(
        self, patient_pk: int, stored: StoredCandidates, in_batch: dict[int, list[Candidate]]
    ) -> list[Candidate]:
        found: dict[int, Candidate] = {}
        for key in self.keys[patient_pk]:
            for candidate in (*stored.by_key.get(key, ()), *in_batch.get(key, ())):
                found[candidate.record_key] = candidate
        return list(found.values())

    def _decide(
        self, patient_pk: int, features: PersonFeatures, candidates: list[Candidate], asserted: set[PersonKey]
    ) -> _Decision:
        """The person of a new record: the one its source names, else the one its insured key names, else the
        best-scoring one at or above the auto-link score, else a new person (with review items for the
        persons at or above the review score). A record without a name is never linked on its score: birth
        date and household alone would join twins."""
        best, deterministic = person_scores(features, candidates)
        ranked = sorted(best, key=lambda person: best[person].score, reverse=True)
        for rule, persons in ((LinkRule.SOURCE_LINK, asserted), (LinkRule.INSURED_KEY, deterministic)):
            if persons:
                person = max(persons, key=lambda key: best[key].score if key in best else float("-inf"))
                return self._link(patient_pk, person, rule, best.get(person), ranked, best)
        if ranked and best[ranked[0]].score >= auto_link_score() and _has_name(features):
            return self._link(patient_pk, ranked[0], LinkRule.PROBABILISTIC, best[ranked[0]], ranked, best)
        self.new_persons -= 1
        self.report.new_persons += 1
        reviews = [(person, best[person]) for person in ranked if best[person].score >= review_score()]
        self.report.reviews += len(reviews)
        return _Decision(patient_pk, self.new_persons, LinkRule.NEW_PERSON, None, [], reviews)

    def _link(
        self,
        patient_pk: int,
        person: PersonKey,
        rule: LinkRule,
        score: PairScore | None,
        ranked: list[PersonKey],
        best: dict[PersonKey, PairScore],
    ) -> _Decision:
        """Link to `person`; another person the record also reaches the auto-link score with may be the same
        person recorded twice: it goes to review, where a steward can merge the two."""
        self.report.linked += 1
        reviews = [
            (other, best[other]) for other in ranked if other != person and best[other].score >= auto_link_score()
        ]
        self.report.reviews += len(reviews)
        explanation = [] if score is None else score.explanation()
        return _Decision(patient_pk, person, rule, None if score is None else score.score, explanation, reviews)

    # Writing

    def write(self) -> None:
        """New persons (stale: their golden records are written when the queue is empty), the source links to
        their golden records, then records, keys, reviews and the decisions' trail; the other persons this
        batch touched are marked stale."""
        new_keys = sorted(key for key in self.touched if key < 0)
        person_of = _PersonNumbers(zip(new_keys, next_values("federation_person_id_seq", len(new_keys)), strict=True))
        golden_ids = {key: new_logical_id() for key in new_keys}
        stored = [key for key in self.touched if key > 0]
        golden_ids.update(Person.objects.filter(pk__in=stored).values_list("pk", "golden"))
        Person.objects.bulk_create(Person(pk=person_of[key], golden=golden_ids[key]) for key in new_keys)
        Person.objects.filter(pk__in=stored).update(golden_stale=True)
        patients = {patient.pk: patient.content for patient in self.patients}
        patients_write(
            [
                patient_put(with_golden_link(content, golden_ids[decision.person]))
                for patient_pk, decision in self.decisions.items()
                if (content := patients[patient_pk]) is not None
            ]
        )
        self._write_records(person_of)

    def _write_records(self, person_of: _PersonNumbers) -> None:
        """Records, keys, reviews and the decisions' trail, each table in one COPY (bulk_create quoted every
        JSON value in Python)."""
        trail = [
            _Trail(IdentityAction.UNLINK, None, record.person_id, detail={"patient": record.patient_id})
            for record in self.unlinked
        ]
        if self.unlinked:
            PersonRecord.objects.filter(pk__in=[record.pk for record in self.unlinked]).delete()
        refreshed = [record for pk, record in self.records.items() if pk in self.features]
        for record in refreshed:
            record.features = self.features[record.patient_id].to_json()
        PersonRecord.objects.bulk_update(refreshed, ["features"])
        BlockingKey.objects.filter(record_id__in=[record.pk for record in refreshed]).delete()
        decisions = list(self.decisions.values())
        pks = next_values("federation_personrecord_id_seq", len(decisions))
        record_of = {decision.patient_pk: pk for decision, pk in zip(decisions, pks, strict=True)}
        copy_rows(
            "federation_personrecord", RECORD_COLUMNS, (self._record_row(d, record_of, person_of) for d in decisions)
        )
        keyed = [(record.pk, record.patient_id) for record in refreshed] + [(pk, p) for p, pk in record_of.items()]
        copy_rows("federation_blockingkey", ("key", "record_id"), ((k, pk) for pk, p in keyed for k in self.keys[p]))
        reviews = []
        for decision in decisions:
            record_pk, person = record_of[decision.patient_pk], person_of[decision.person]
            action = IdentityAction.NEW_PERSON if decision.rule == LinkRule.NEW_PERSON else IdentityAction.LINK
            trail.append(_Trail(action, record_pk, person, None, decision.rule, decision.score, decision.explanation))
            for candidate, score in decision.reviews:
                reviews.append((record_pk, person_of[candidate], score.score, json.dumps(score.explanation())))
                trail.append(
                    _Trail(IdentityAction.REVIEW, record_pk, person, person_of[candidate], LinkRule.PROBABILISTIC,
                           score.score, score.explanation())
                )  # fmt: skip
        copy_rows(
            "federation_matchreview", REVIEW_COLUMNS, ((*row, ReviewStatus.OPEN, self.now, "") for row in reviews)
        )
        copy_rows("federation_identitydecision", DECISION_COLUMNS, (item.row(self.now) for item in trail))

    def _record_row(self, decision: _Decision, record_of: dict[int, int], person_of: _PersonNumbers) -> tuple[Any, ...]:
        features = json.dumps(self.features[decision.patient_pk].to_json())
        return (
            record_of[decision.patient_pk],
            decision.patient_pk,
            person_of[decision.person],
            features,
            decision.rule,
            decision.score,
            json.dumps(decision.explanation),
            self.now,
        )


RECORD_COLUMNS = ("id", "patient_id", "person_id", "features", "rule", "score", "explanation", "decided_at")
REVIEW_COLUMNS = ("record_id", "candidate_id", "score", "explanation", "status", "created_at", "decided_by")
DECISION_COLUMNS = (
    "action", "actor", "record_id", "person_id", "other_person_id", "rule", "score", "explanation", "detail", "reason",
    "at",
)  # fmt: skip


@dataclass(frozen=True)
class _Trail:
    """One IdentityDecision row the linker writes."""

    action: str
    record: int | None
    person: int
    other_person: int | None = None
    rule: str = ""
    score: float | None = None
    explanation: list[dict[str, Any]] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self, now: datetime) -> tuple[Any, ...]:
        explanation, detail = json.dumps(self.explanation), json.dumps(self.detail)
        return (self.action, LINKER, self.record, self.person, self.other_person, self.rule, self.score, explanation,
                detail, "", now)  # fmt: skip


def _has_name(features: PersonFeatures) -> bool:
    return any((features.kana_family, features.kana_given, features.kanji_family, features.kanji_given))


def _asserted_links(patients: list[_Patient]) -> dict[int, set[int]]:
    """For each new record, the Patients its source says are the same person: those its Patient.link names,
    and those whose Patient.link names it (an A40 merge links the surviving record to the one it replaces)."""
    if not patients:
        return {}
    by_logical_id = {patient.logical_id: patient.pk for patient in patients}
    named: dict[int, set[str]] = {}
    for patient in patients:
        assert patient.content is not None
        for link in patient.content.get("link") or []:
            reference = str((link.get("other") or {}).get("reference", ""))
            if reference.startswith("Patient/") and link.get("type") != "refer":
                named.setdefault(patient.pk, set()).add(reference.removeprefix("Patient/"))
    link_param = index_key(parameters_for("Patient")["link"])
    pointing = ReferenceIndex.objects.filter(
        param=link_param, target_type="Patient", target_id__in=list(by_logical_id)
    ).values_list("resource_id", "target_id")
    pks_of = dict(
        Resource.objects.filter(
            resource_type="Patient", logical_id__in=set().union(*named.values()) if named else set()
        ).values_list("logical_id", "pk")
    )
    asserted = {pk: {pks_of[logical_id] for logical_id in ids if logical_id in pks_of} for pk, ids in named.items()}
    for resource_id, target_id in pointing:
        if target_id is not None:
            asserted.setdefault(by_logical_id[target_id], set()).add(resource_id)
    return asserted
