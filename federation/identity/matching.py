"""Patient/$match: the persons a Patient resource may be, scored as the linker would score it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consent.contracts import AccessContext
from core.outcome import FhirError
from federation.contracts import StoredVersion
from federation.identity.blocking import blocking_keys
from federation.identity.candidates import StoredCandidates, person_scores
from federation.identity.compare import match_grade, match_probability
from federation.identity.features import patient_features
from federation.models import Person
from federation.search.selectors import resource_read

DEFAULT_COUNT = 10
INSURED_KEY_SCORE = 1.0  # the deterministic rule is certain


@dataclass(frozen=True)
class PatientMatch:
    """A person's golden Patient, how likely it is the one sought (0-1) and the FHIR match grade."""

    golden: StoredVersion
    score: float
    grade: str


def patient_match(
    *, access: AccessContext, patient: dict[str, Any], only_certain: bool, count: int | None
) -> list[PatientMatch]:
    """The persons `patient` may be, best first: certain ones only when `only_certain`; at most `count`.
    Persons the caller may not see are left out (the golden records are read through the one read path)."""
    features = patient_features(patient)
    candidates = StoredCandidates.load(set(blocking_keys(features)))
    best, deterministic = person_scores(features, candidates.for_keys(blocking_keys(features)))
    graded = []
    for person, score in best.items():
        grade = "certain" if person in deterministic else match_grade(score.score)
        probability = INSURED_KEY_SCORE if person in deterministic else match_probability(score.score)
        if grade == "certainly-not" or (only_certain and grade != "certain"):
            continue
        graded.append((probability, person, grade))
    graded.sort(key=lambda item: (-item[0], item[1]))
    golden_ids = dict(Person.objects.filter(pk__in=[person for _, person, _ in graded]).values_list("pk", "golden"))
    matches: list[PatientMatch] = []
    for probability, person, grade in graded:
        try:
            golden = resource_read(access=access, resource_type="Patient", logical_id=golden_ids[person])
        except FhirError as error:
            if error.status in (404, 410):  # not visible to the caller, or retired meanwhile
                continue
            raise
        matches.append(PatientMatch(golden, round(probability, 4), grade))
        if len(matches) == (count or DEFAULT_COUNT):
            break
    return matches
