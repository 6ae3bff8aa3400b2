"""Who a record may be: the stored records that share a blocking key with it, and each candidate person's best
score against it (as the linker and Patient/$match both ask)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from federation.identity.compare import PairScore, deterministic_rule, pair_score
from federation.identity.features import PersonFeatures
from federation.identity.session import server_bound_cursor

MAX_BLOCK = 400  # a key shared by more records than this (a clinic's phone) says nothing: it is not used

# A person in a batch: the pk of a stored Person, or a new one (negative, numbered within the batch).
PersonKey = int


@dataclass
class Candidate:
    """A record a new record may be compared with: stored, or linked earlier in the same batch."""

    record_key: int  # PersonRecord pk, or the negative patient pk of a record new in this batch
    person: PersonKey
    features: PersonFeatures


def person_scores(
    features: PersonFeatures, candidates: list[Candidate]
) -> tuple[dict[PersonKey, PairScore], set[PersonKey]]:
    """Each candidate person's best pair score against `features`, and the persons the deterministic rule
    names."""
    best: dict[PersonKey, PairScore] = {}
    deterministic: set[PersonKey] = set()
    for candidate in candidates:
        score = pair_score(features, candidate.features)
        if candidate.person not in best or score.score > best[candidate.person].score:
            best[candidate.person] = score
        if deterministic_rule(features, candidate.features) is not None:
            deterministic.add(candidate.person)
    return best, deterministic


BLOCK_MEMBERS = "SELECT key, record_id FROM federation_blockingkey WHERE key = ANY(%s::bigint[])"
CANDIDATE_RECORDS = "SELECT id, person_id, features::text FROM federation_personrecord WHERE id = ANY(%s::bigint[])"


class StoredCandidates:
    """Stored records sharing blocking keys with the batch's new records, by key; over-full keys left out."""

    def __init__(self, by_key: dict[int, list[Candidate]]) -> None:
        self.by_key = by_key

    def for_keys(self, keys: Iterable[int]) -> list[Candidate]:
        return list(
            {candidate.record_key: candidate for key in keys for candidate in self.by_key.get(key, ())}.values()
        )

    @classmethod
    def load(cls, keys: set[int]) -> StoredCandidates:
        if not keys:
            return cls({})
        records_by_key: dict[int, list[int]] = {}
        with server_bound_cursor() as cursor:
            cursor.execute(BLOCK_MEMBERS, [list(keys)])
            for key, record_id in cursor.fetchall():
                records_by_key.setdefault(key, []).append(record_id)
            records_by_key = {key: ids for key, ids in records_by_key.items() if len(ids) <= MAX_BLOCK}
            wanted = set().union(*records_by_key.values()) if records_by_key else set()
            cursor.execute(CANDIDATE_RECORDS, [list(wanted)])
            candidates = {
                pk: Candidate(pk, person_id, PersonFeatures.from_json(json.loads(features)))
                for pk, person_id, features in cursor.fetchall()
            }
        return cls({key: [candidates[pk] for pk in ids if pk in candidates] for key, ids in records_by_key.items()})
