"""Are two records the same person? A Fellegi-Sunter score: each field's agreement level adds its weight
log2(m/u), m the chance of that level for two records of one person, u for two different people. The
score is the log2 likelihood ratio "same person" : "different people", and each term can be shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from federation.identity.features import PersonFeatures

FAMILY_NAME, GIVEN_NAME, BIRTH_DATE, SEX = "family_name", "given_name", "birth_date", "sex"
POSTAL_CODE, ADDRESS, PHONE = "postal_code", "address", "phone"
MISSING = "missing"  # either record lacks the field: weight 0, the score neither gains nor loses

# field -> level -> (m, u). m = P(level | same person), u = P(level | two different people).
# m comes from the generator's noise rates (synthetic/views.py) and what real registration desks add;
# u from Japanese name and birth-date frequencies in a city of ~100,000 people.
M_U: dict[str, dict[str, tuple[float, float]]] = {
    # Names compare the kana reading and the kanji, each in matching form (normalize.py). "agree": every
    # script both records have agrees; "partial": one agrees, the other does not; "kana-close": no kanji
    # to compare and the readings are one edit apart; "disagree": the rest.
    FAMILY_NAME: {
        # m: kana typos (3% of records, half in the family name: ~3% of pairs), marriage (~1.5%).
        # u: the sum of squared family-name frequencies is ~0.2% nationally (佐藤 1.5%, 鈴木 1.4%, ...),
        # more in a region where a few names cluster (鈴木, 望月 in 静岡).
        "agree": (0.95, 0.003),
        # m: the kana typo with the kanji intact, a homophone written by ear (渡辺 for 渡部).
        # u: different names with one reading (渡辺/渡部 ワタナベ) or one kanji read two ways (河野 コウノ/カワノ).
        "partial": (0.03, 0.001),
        # m: a kana typo where a record has no kanji. u: short readings one kana apart (サト, カト, イト, ゴト).
        "kana-close": (0.004, 0.02),
        # m: the family name changed (marriage, adoption) between two sources' registrations.
        "disagree": (0.016, 0.976),
    },
    GIVEN_NAME: {
        # m: kana typos (~3% of pairs). u: given names are more varied than family names; the commonest
        # given name of a birth year is under 1% of that year's children.
        "agree": (0.965, 0.002),
        # m: the kana typo with the kanji intact, a wrong kanji for the reading (博 for 浩 ヒロシ).
        "partial": (0.03, 0.0005),
        # Set by policy, not measured (a typo where one record has no kanji has m ≈ 0.004): with no kanji,
        # readings one kana apart are as often siblings (ユイ, ユイナ) as a typo, so such a pair goes to
        # review at most, never to an automatic link, however much else it shares.
        "kana-close": (1e-6, 0.05),
        # Set by policy: a true match with a given name different in both scripts needs a court-approved
        # 改名. Fellegi-Sunter's independence overstates what a household shares (family name, address,
        # phone; for twins the birth date too), so this weight must outweigh all of it: twins who share
        # everything but the given name score 10, far below POSSIBLE_SCORE.
        "disagree": (1e-9, 0.9475),
    },
    BIRTH_DATE: {
        # m: BIRTH_DATE_TYPO is 0.4% per record. u: one day in 80 years of birth dates: 1 / (365.25 * 80).
        "exact": (0.99, 1 / (365.25 * 80)),
        # Typo: day and month swapped, one digit different, or 1 or 10 days off. u: about 40 of the
        # ~29,000 dates of 80 years are one such typo away from a given date.
        "typo": (0.009, 40 / (365.25 * 80)),
        # m: placeholder dates for an unknown birthday, 和暦 converted wrongly.
        "disagree": (0.0005, 0.9986),
    },
    SEX: {
        "agree": (0.995, 0.5),
        "disagree": (0.005, 0.5),  # m: sex entered wrongly, rare in registration data
    },
    # Postal code, address and phone are one household's evidence. Counting each as independent would
    # count a household three times, so u of address is conditional on a shared postal code, and u of a
    # phone shared at a shared address on sharing the address.
    POSTAL_CODE: {
        # m: ~15% of a person's record pairs date from both sides of a move a source missed (LEARNS_OF_MOVE
        # is 0.4-0.9). u: a postal code area holds ~1% of a city's people.
        "shared": (0.85, 0.01),
        "none": (0.15, 0.99),
    },
    ADDRESS: {
        # m: missed moves and addresses written differently (building omitted). u: of the ~1,000 people in
        # a postal code area, a household of ~2.5 share a home.
        "shared": (0.80, 0.0025),
        "none": (0.20, 0.9975),
    },
    PHONE: {
        # u: a household's members share the landline (in the generator, 30-80% of households have one).
        "shared-at-same-address": (0.9, 0.4),
        # The same number at different (or unknown) addresses: the person moved and kept it. u: household
        # members whose move one source missed, otherwise a random number.
        "shared": (0.9, 1e-4),
        # m: a number changed, a landline at one source and a mobile at another.
        "none": (0.15, 0.9),
    },
}

# Prior odds that two records are the same person: in a city of 100,000 people known to ~4 sources each,
# 3 of a record's ~400,000 fellows are the same person, ~2**-17. A score adds to these log2 odds, so the
# thresholds below are match probabilities.
PRIOR_LOG2_ODDS = -17.0
# Link without review from a match probability of about 0.9999: a wrong merge mixes two people's records,
# a missed link only waits for review. Name + birth date + sex (33) with a household that disagrees
# everywhere (25, or 28 with no phone to compare) is not enough: 同姓同名 with one birthday exist, and a
# small name pool has many.
AUTO_LINK_SCORE = 30.0
# Review from a match probability of 0.99: a birth-date typo with a stale address and the same phone (29),
# a kana typo with a stale address and no phone (25) are reviewed; twins (10) and namesakes born on
# other days (0 in different homes, 23 at one address) are not.
REVIEW_SCORE = 24.0
# "possible" from even odds: worth listing in $match, not worth a reviewer's time.
POSSIBLE_SCORE = 17.0

DETERMINISTIC_INSURED_KEY = "insured-person-key"


@dataclass(frozen=True, slots=True)
class FieldComparison:
    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class PairScore:
    score: float
    comparisons: tuple[FieldComparison, ...]

    def explanation(self) -> list[dict[str, Any]]:
        """Each field's level and weight, for a reviewer and for the link's audit trail."""
        return [
            {"field": comparison.field, "level": comparison.level, "weight": round(comparison.weight, 2)}
            for comparison in self.comparisons
        ]


# Every possible comparison, built once: scoring a pair only looks them up.
_COMPARISONS = {
    (field, level): FieldComparison(field, level, math.log2(m / u))
    for field, levels in M_U.items()
    for level, (m, u) in levels.items()
} | {(field, MISSING): FieldComparison(field, MISSING, 0.0) for field in M_U}


def pair_score(a: PersonFeatures, b: PersonFeatures) -> PairScore:
    """The Fellegi-Sunter score of two records: the sum of their fields' weights (symmetric in a, b)."""
    address = _shared_level(a.addresses, b.addresses)
    phone = _shared_level(a.phones, b.phones)
    if phone == "shared" and address == "shared":
        phone = "shared-at-same-address"
    comparisons = (
        _COMPARISONS[FAMILY_NAME, _name_level(a.kana_family, b.kana_family, a.kanji_family, b.kanji_family)],
        _COMPARISONS[GIVEN_NAME, _name_level(a.kana_given, b.kana_given, a.kanji_given, b.kanji_given)],
        _COMPARISONS[BIRTH_DATE, _birth_date_level(a.birth_date, b.birth_date)],
        _COMPARISONS[SEX, _sex_level(a.sex, b.sex)],
        _COMPARISONS[POSTAL_CODE, _shared_level(a.postal_codes, b.postal_codes)],
        _COMPARISONS[ADDRESS, address],
        _COMPARISONS[PHONE, phone],
    )
    return PairScore(sum(comparison.weight for comparison in comparisons), comparisons)


def deterministic_rule(a: PersonFeatures, b: PersonFeatures) -> str | None:
    """The rule that links two records without scoring: a shared insured-person key (保険証 or 介護保険証,
    one per person) — unless birth date and sex both disagree, where a mistyped card number would merge
    two people."""
    if a.insured_keys.isdisjoint(b.insured_keys):
        return None
    if _birth_date_level(a.birth_date, b.birth_date) == "disagree" and _sex_level(a.sex, b.sex) == "disagree":
        return None
    return DETERMINISTIC_INSURED_KEY


def match_grade(score: float) -> str:
    """The FHIR match-grade code (http://terminology.hl7.org/CodeSystem/match-grade) for a score."""
    if score >= AUTO_LINK_SCORE:
        return "certain"
    if score >= REVIEW_SCORE:
        return "probable"
    if score >= POSSIBLE_SCORE:
        return "possible"
    return "certainly-not"


def match_probability(score: float) -> float:
    """P(same person) for Bundle.entry.search.score: the logistic of the score added to the prior log2 odds."""
    log2_odds = max(-1000.0, min(1000.0, score + PRIOR_LOG2_ODDS))
    return 1.0 / (1.0 + math.exp2(-log2_odds))


def kana_close(a: str, b: str) -> bool:
    """Two kana keys a typo apart: Damerau-Levenshtein distance 1, or Jaro-Winkler similarity >= 0.9."""
    first, second = sorted((a, b))  # an argument order for each pair, so the answer is symmetric
    return _within_one_edit(first, second) or _jaro_winkler(first, second) >= 0.9


def _name_level(kana_a: str, kana_b: str, kanji_a: str, kanji_b: str) -> str:
    kana = kana_a == kana_b if kana_a and kana_b else None
    kanji = kanji_a == kanji_b if kanji_a and kanji_b else None
    if kana is None and kanji is None:
        return MISSING
    if kana is not False and kanji is not False:
        return "agree"
    if kana or kanji:
        return "partial"
    if kanji is None and kana_close(kana_a, kana_b):
        return "kana-close"
    return "disagree"


def _birth_date_level(a: date | None, b: date | None) -> str:
    if a is None or b is None:
        return MISSING
    if a == b:
        return "exact"
    return "typo" if _is_birth_date_typo(a, b) else "disagree"


def _is_birth_date_typo(a: date, b: date) -> bool:
    """The mistakes a clerk makes typing a birth date (the generator's `_written_birth_date` and more)."""
    if abs((a - b).days) in (1, 10):
        return True
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return True
    return sum(x != y for x, y in zip(a.isoformat(), b.isoformat(), strict=True)) == 1


def _sex_level(a: str, b: str) -> str:
    if not a or not b:
        return MISSING
    return "agree" if a == b else "disagree"


def _shared_level(a: frozenset[str], b: frozenset[str]) -> str:
    if not a or not b:
        return MISSING
    return "none" if a.isdisjoint(b) else "shared"


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein (optimal string alignment) distance <= 1, in one pass."""
    if abs(len(a) - len(b)) > 1:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    rest_a, rest_b = a[start:], b[start:]
    if len(rest_a) != len(rest_b):
        longer, shorter = (rest_a, rest_b) if len(rest_a) > len(rest_b) else (rest_b, rest_a)
        return longer[1:] == shorter
    swapped = len(rest_a) >= 2 and rest_a[0] == rest_b[1] and rest_a[1] == rest_b[0] and rest_a[2:] == rest_b[2:]
    return rest_a[1:] == rest_b[1:] or swapped


def _jaro_winkler(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    window = max(0, max(len(a), len(b)) // 2 - 1)
    taken = [False] * len(b)
    matched_a: list[str] = []
    for index, char in enumerate(a):
        for other in range(max(0, index - window), min(len(b), index + window + 1)):
            if not taken[other] and b[other] == char:
                taken[other] = True
                matched_a.append(char)
                break
    matches = len(matched_a)
    if not matches:
        return 0.0
    matched_b = [char for char, was_taken in zip(b, taken, strict=True) if was_taken]
    transpositions = sum(x != y for x, y in zip(matched_a, matched_b, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)
