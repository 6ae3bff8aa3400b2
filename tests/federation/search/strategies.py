"""Hypothesis strategies for the search differential tests: a small Japanese region, and queries on it.

Values come from small pools shared by the data and the queries, so that most queries hit something
and the interesting edges (kana forms, variant kanji, date precisions, time zones, open periods,
dangling references) turn up often.  Every query drawn here is one that `oracle.evaluate` supports.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

Resource = dict[str, Any]
Term = tuple[str, str]  # (parameter name, encoded-but-unescaped-for-URL value)

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
PATIENT_ID_SYSTEMS = ("urn:oid:1.2.392.100495.20.3.51.11234567890", "urn:oid:1.2.392.100495.20.3.51.11310000001")
PATIENT_ID_VALUES = ("00012345", "00067890", "00011111", "A-0042")
ID_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
ORG_ID_SYSTEM = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"
ORG_ID_VALUES = ("1311234567", "2712345678")
JP_PATIENT_PROFILE = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
TAG_SYSTEM = "urn:oid:1.2.392.100495.20.1.99"
TAG_CODES = ("research", "vip")
JLAC10 = "urn:oid:1.2.392.200119.4.504"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
YJ = "urn:oid:1.2.392.100495.20.2.74"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

MAX_PATIENTS = 12
PATIENT_IDS = tuple(f"pat-{i}" for i in range(1, MAX_PATIENTS + 1))
GHOST_PATIENT = "pat-ghost"  # referenced, never stored: chains through it find nothing


@dataclass(frozen=True)
class PersonName:
    family: str
    given: str
    kana_family: str  # katakana
    kana_given: str


NAMES = (
    PersonName("山田", "太郎", "ヤマダ", "タロウ"),
    PersonName("山田", "花子", "ヤマダ", "ハナコ"),
    PersonName("髙橋", "一郎", "タカハシ", "イチロウ"),
    PersonName("高橋", "直美", "タカハシ", "ナオミ"),
    PersonName("山﨑", "美咲", "ヤマザキ", "ミサキ"),
    PersonName("山崎", "健太", "ヤマサキ", "ケンタ"),
    PersonName("佐藤", "優子", "サトウ", "ユウコ"),
    PersonName("伊藤", "ジョージ", "イトウ", "ジョージ"),
    PersonName("渡邊", "翔", "ワタナベ", "ショウ"),
    PersonName("García", "José", "ガルシア", "ホセ"),
    PersonName("Müller", "Zoë", "ミュラー", "ゾーイ"),
)
CITIES = ("千代田区", "大阪市北区", "札幌市", "ﾖｺﾊﾏｼ")
POSTAL_CODES = ("100-0001", "530-0001", "060-0001")
LINES = ("丸の内1-1-1", "梅田2-4-9, 3F", "北1条西2丁目")
PHONES = ("03-1234-5678", "06-9876-5432", "090-1111-2222")
ORG_NAMES = ("東京中央病院", "大阪南クリニック", "さっぽろ内科医院", "ﾖｺﾊﾏ整形外科")


@dataclass(frozen=True)
class LabTest:
    jlac10: str
    loinc: str
    display: str
    unit: str
    values: tuple[float | int, ...]


LAB_TESTS = (
    LabTest("3D046000001906202", "4548-4", "HbA1c\uff08NGSP\uff09", "%", (5.5, 6.5, 6.0, 7.25)),
    LabTest("3D010000001926101", "2345-7", "グルコース", "mg/dL", (99.5, 100, 100.4, 126, 140.0)),
    LabTest("9N001000000000001", "29463-7", "体重", "kg", (48.2, 70, 70.0, 100.5)),
)
OBSERVATION_STRINGS = ("陰性", "ﾖｳｾｲ", "陽性\uff08+\uff09", "Négatif")
CONDITIONS = (("E11", "2型糖尿病"), ("I10", "本態性高血圧症"), ("J45", "喘息"), ("E78.5", "脂質異常症"))
MEDICATIONS = (("2149039F1020", "アムロジピン錠5mg"), ("3969007F1021", "メトホルミン塩酸塩錠250mg"))
ENCOUNTER_CLASSES = ("AMB", "IMP", "EMER")
LAST_UPDATED = (
    "2024-04-01T09:00:00.000+09:00",
    "2024-04-01T00:00:00Z",
    "2024-04-02T23:59:59.999+09:00",
    "2025-01-15T12:30:00+09:00",
    "2025-01-15T03:30:00.5Z",
)
BIRTH_YEARS = (1940, 1941, 1949, 1950, 1975, 2000, 2024)
CLINICAL_YEARS = (2023, 2024, 2025)
TIMES = ("00:00:00", "09:30:00", "23:59:59", "15:00:00.25")
# A stored dateTime with a time must carry a zone (FHIR R4); a search value may omit it ("").
STORED_ZONES = ("+09:00", "Z", "-05:00")
SEARCH_ZONES = (*STORED_ZONES, "")  # "" = no zone: the server reads it in Asia/Tokyo
DATE_PREFIXES = ("", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
NUMBER_PREFIXES = ("", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
SEARCH_NUMBERS = ("6.5", "6", "6.0", "100", "100.0", "1e2", "70", "99.5", "140", "5.50")


# --------------------------------------------------------------------------------------------------
# Kana forms


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)


def _halfwidth_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for code in range(0xFF61, 0xFFA0):
        full = unicodedata.normalize("NFKC", chr(code))
        if len(full) == 1:
            table.setdefault(full, chr(code))
    return table


_HALFWIDTH = _halfwidth_table()
_HALFWIDTH_MARKS = {"\u3099": "\uff9e", "\u309a": "\uff9f"}


def to_halfwidth(text: str) -> str:
    """Katakana to half-width katakana, voiced kana as base + ﾞ/ﾟ (as legacy systems store them)."""
    out: list[str] = []
    for char in text:
        decomposed = unicodedata.normalize("NFD", char)
        if char in _HALFWIDTH:
            out.append(_HALFWIDTH[char])
        elif len(decomposed) == 2 and decomposed[0] in _HALFWIDTH and decomposed[1] in _HALFWIDTH_MARKS:
            out.append(_HALFWIDTH[decomposed[0]] + _HALFWIDTH_MARKS[decomposed[1]])
        else:
            out.append(char)
    return "".join(out)


KANA_FORMS: dict[str, Callable[[str], str]] = {"katakana": str, "hiragana": to_hiragana, "halfwidth": to_halfwidth}


def _fullwidth_latin(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


TEXT_FORMS: dict[str, Callable[[str], str]] = {
    **KANA_FORMS,
    "upper": str.upper,
    "lower": str.lower,
    "fullwidth": _fullwidth_latin,
    "unaccented": lambda s: "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c)),
}


# --------------------------------------------------------------------------------------------------
# Resources


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


@st.composite
def _date(draw: st.DrawFn, years: tuple[int, ...]) -> str:
    """A date at year, month or day precision."""
    year = draw(st.sampled_from(years))
    precision = draw(st.sampled_from(("year", "month", "day")))
    month, day = draw(st.integers(1, 12)), draw(st.sampled_from((1, 2, 15, 28)))
    return {"year": f"{year}", "month": f"{year}-{month:02d}", "day": f"{year}-{month:02d}-{day:02d}"}[precision]


@st.composite
def _date_time(draw: st.DrawFn, years: tuple[int, ...] = CLINICAL_YEARS, zones: tuple[str, ...] = STORED_ZONES) -> str:
    """A dateTime: mostly with a time (with or without a zone), sometimes just a date."""
    date = draw(_date(years))
    if len(date) < 10 or draw(st.integers(0, 3)) == 0:
        return date
    return f"{date}T{draw(st.sampled_from(TIMES))}{draw(st.sampled_from(zones))}"


@st.composite
def _period(draw: st.DrawFn) -> dict[str, str]:
    start, end = draw(_date_time()), draw(_date_time())
    start, end = sorted((start, end))
    shape = draw(st.sampled_from(("both", "start", "end")))
    return {"both": {"start": start, "end": end}, "start": {"start": start}, "end": {"end": end}}[shape]


def _meta(draw: st.DrawFn, *, profile: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"lastUpdated": draw(st.sampled_from(LAST_UPDATED))}
    if draw(st.integers(0, 3)) == 0:
        meta["tag"] = [_coding(TAG_SYSTEM, draw(st.sampled_from(TAG_CODES)))]
    if profile and draw(st.booleans()):
        meta["profile"] = [profile]
    return meta


def _maybe(draw: st.DrawFn, value: Any, key: str, target: Resource) -> None:
    if draw(st.booleans()):
        target[key] = value


def _names(draw: st.DrawFn, person: PersonName) -> list[dict[str, Any]]:
    """A kanji name (IDE) and a kana name (SYL) in one of the forms real systems store."""
    kana = KANA_FORMS[draw(st.sampled_from(tuple(KANA_FORMS)))]
    separator = draw(st.sampled_from((" ", "\u3000")))
    kanji_name = {
        "extension": [{"url": EN_REPRESENTATION, "valueCode": "IDE"}],
        "use": "official",
        "text": f"{person.family}{separator}{person.given}",
        "family": person.family,
        "given": [person.given],
    }
    kana_name: dict[str, Any] = {
        "extension": [{"url": EN_REPRESENTATION, "valueCode": "SYL"}],
        "text": f"{kana(person.kana_family)}{separator}{kana(person.kana_given)}",
        "family": kana(person.kana_family),
        "given": [kana(person.kana_given)],
    }
    if draw(st.booleans()):
        kana_name["use"] = "usual"
    return [kanji_name, kana_name]


def _patient_identifier(draw: st.DrawFn) -> dict[str, Any]:
    identifier: dict[str, Any] = {
        "system": draw(st.sampled_from(PATIENT_ID_SYSTEMS)),
        "value": draw(st.sampled_from(PATIENT_ID_VALUES)),
    }
    if draw(st.booleans()):
        identifier["type"] = {"coding": [_coding(ID_TYPE_SYSTEM, "MR")], "text": "診察券番号"}
    return identifier


@st.composite
def patient(draw: st.DrawFn, rid: str, organizations: list[str], practitioners: list[str]) -> Resource:
    resource: Resource = {
        "resourceType": "Patient",
        "id": rid,
        "meta": _meta(draw, profile=JP_PATIENT_PROFILE),
        "identifier": [_patient_identifier(draw)],
        "name": _names(draw, draw(st.sampled_from(NAMES))),
    }
    _maybe(draw, draw(st.sampled_from(("male", "female", "other", "unknown"))), "gender", resource)
    _maybe(draw, draw(_date(BIRTH_YEARS)), "birthDate", resource)
    _maybe(draw, draw(st.booleans()), "active", resource)
    _maybe(draw, [{"system": "phone", "value": draw(st.sampled_from(PHONES)), "use": "home"}], "telecom", resource)
    address = {
        "line": [draw(st.sampled_from(LINES))],
        "city": draw(st.sampled_from(CITIES)),
        "postalCode": draw(st.sampled_from(POSTAL_CODES)),
        "country": "JP",
    }
    _maybe(draw, [address], "address", resource)
    if organizations:
        _maybe(
            draw,
            {"reference": f"Organization/{draw(st.sampled_from(organizations))}"},
            "managingOrganization",
            resource,
        )
    if practitioners:
        reference = {"reference": f"Practitioner/{draw(st.sampled_from(practitioners))}"}
        _maybe(draw, [reference], "generalPractitioner", resource)
    return resource


@st.composite
def organization(draw: st.DrawFn, rid: str) -> Resource:
    resource: Resource = {
        "resourceType": "Organization",
        "id": rid,
        "meta": _meta(draw),
        "name": draw(st.sampled_from(ORG_NAMES)),
        "identifier": [{"system": ORG_ID_SYSTEM, "value": draw(st.sampled_from(ORG_ID_VALUES))}],
    }
    _maybe(draw, draw(st.booleans()), "active", resource)
    _maybe(
        draw,
        [{"city": draw(st.sampled_from(CITIES)), "postalCode": draw(st.sampled_from(POSTAL_CODES))}],
        "address",
        resource,
    )
    return resource


@st.composite
def practitioner(draw: st.DrawFn, rid: str) -> Resource:
    resource: Resource = {
        "resourceType": "Practitioner",
        "id": rid,
        "meta": _meta(draw),
        "name": _names(draw, draw(st.sampled_from(NAMES))),
    }
    _maybe(draw, draw(st.sampled_from(("male", "female"))), "gender", resource)
    return resource


@st.composite
def medication(draw: st.DrawFn, rid: str) -> Resource:
    code, display = draw(st.sampled_from(MEDICATIONS))
    return {
        "resourceType": "Medication",
        "id": rid,
        "meta": _meta(draw),
        "code": {"coding": [_coding(YJ, code, display)], "text": display},
        "status": "active",
    }


def _subject(draw: st.DrawFn, patients: list[str]) -> dict[str, str]:
    """Mostly a stored patient; sometimes one that was never stored (a dangling reference)."""
    rid = GHOST_PATIENT if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(patients))
    return {"reference": f"Patient/{rid}"}


@st.composite
def observation(draw: st.DrawFn, rid: str, patients: list[str]) -> Resource:
    test = draw(st.sampled_from(LAB_TESTS))
    codings = [_coding(JLAC10, test.jlac10, test.display), _coding(LOINC, test.loinc)]
    resource: Resource = {
        "resourceType": "Observation",
        "id": rid,
        "meta": _meta(draw),
        "status": draw(st.sampled_from(("final", "preliminary", "amended"))),
        "code": {"coding": draw(st.permutations(codings)), "text": test.display},
        "subject": _subject(draw, patients),
    }
    category = "vital-signs" if test.unit == "kg" else "laboratory"
    _maybe(draw, [{"coding": [_coding(OBSERVATION_CATEGORY, category)]}], "category", resource)
    value_kind = draw(st.sampled_from(("quantity", "quantity", "string", "none")))
    if value_kind == "quantity":
        value = draw(st.sampled_from(test.values))
        resource["valueQuantity"] = _lab_quantity(value, test.unit)
    elif value_kind == "string":
        resource["valueString"] = draw(st.sampled_from(OBSERVATION_STRINGS))
    effective = draw(st.sampled_from(("dateTime", "period", "none")))
    if effective == "dateTime":
        resource["effectiveDateTime"] = draw(_date_time())
    elif effective == "period":
        resource["effectivePeriod"] = draw(_period())
    if draw(st.integers(0, 3)) == 0:  # a panel: its parts as components, for the combo- parameters
        part = draw(st.sampled_from(LAB_TESTS))
        component: dict[str, Any] = {"code": {"coding": [_coding(LOINC, part.loinc, part.display)]}}
        _maybe(draw, _lab_quantity(draw(st.sampled_from(part.values)), part.unit), "valueQuantity", component)
        resource["component"] = [component]
    return resource


def _lab_quantity(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


@st.composite
def condition(draw: st.DrawFn, rid: str, patients: list[str]) -> Resource:
    code, display = draw(st.sampled_from(CONDITIONS))
    resource: Resource = {
        "resourceType": "Condition",
        "id": rid,
        "meta": _meta(draw),
        "code": {"coding": [_coding(ICD10, code, display)]},
        "subject": _subject(draw, patients),
    }
    status = draw(st.sampled_from(("active", "resolved")))
    _maybe(draw, {"coding": [_coding(CONDITION_CLINICAL, status)]}, "clinicalStatus", resource)
    _maybe(draw, draw(_date_time()), "onsetDateTime", resource)
    _maybe(draw, draw(_date_time()), "recordedDate", resource)
    return resource


@st.composite
def encounter(draw: st.DrawFn, rid: str, patients: list[str]) -> Resource:
    resource: Resource = {
        "resourceType": "Encounter",
        "id": rid,
        "meta": _meta(draw),
        "status": draw(st.sampled_from(("finished", "in-progress", "planned"))),
        "class": _coding(ACT_CODE, draw(st.sampled_from(ENCOUNTER_CLASSES))),
        "subject": _subject(draw, patients),
    }
    _maybe(draw, draw(_period()), "period", resource)
    return resource


@st.composite
def medication_request(draw: st.DrawFn, rid: str, patients: list[str], medications: list[str]) -> Resource:
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "meta": _meta(draw),
        "status": draw(st.sampled_from(("active", "completed", "stopped"))),
        "intent": "order",
        "subject": _subject(draw, patients),
    }
    by_reference: bool = draw(st.booleans())
    if medications and by_reference:
        resource["medicationReference"] = {"reference": f"Medication/{draw(st.sampled_from(medications))}"}
    else:
        code, display = draw(st.sampled_from(MEDICATIONS))
        resource["medicationCodeableConcept"] = {"coding": [_coding(YJ, code, display)], "text": display}
    _maybe(draw, draw(_date_time()), "authoredOn", resource)
    return resource


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


@st.composite
def region(draw: st.DrawFn) -> list[Resource]:
    """A small regional population: patients, their organisations and clinical records (<= ~40)."""
    organizations = _ids("org", draw(st.integers(1, 3)))
    practitioners = _ids("prac", draw(st.integers(0, 2)))
    medications = _ids("med", draw(st.integers(0, 2)))
    patients = _ids("pat", draw(st.integers(1, MAX_PATIENTS)))
    resources: list[Resource] = [draw(organization(rid)) for rid in organizations]
    resources += [draw(practitioner(rid)) for rid in practitioners]
    resources += [draw(medication(rid)) for rid in medications]
    resources += [draw(patient(rid, organizations, practitioners)) for rid in patients]
    clinical = {
        "obs": lambda rid: observation(rid, patients),
        "cond": lambda rid: condition(rid, patients),
        "enc": lambda rid: encounter(rid, patients),
        "mr": lambda rid: medication_request(rid, patients, medications),
    }
    for prefix, build in clinical.items():
        resources += [draw(build(rid)) for rid in _ids(prefix, draw(st.integers(0, 6)))]
    return resources


# --------------------------------------------------------------------------------------------------
# Queries


def escape(value: str) -> str:
    """Escape FHIR search separators inside one value."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")


@st.composite
def _text_prefix(draw: st.DrawFn, texts: tuple[str, ...]) -> str:
    text = draw(st.sampled_from(texts))
    return text[: draw(st.integers(1, len(text)))]


def _name_parts(kinds: tuple[str, ...]) -> tuple[str, ...]:
    parts = {
        "family": [n.family for n in NAMES] + [n.kana_family for n in NAMES],
        "given": [n.given for n in NAMES] + [n.kana_given for n in NAMES],
        "kana": [f"{n.kana_family} {n.kana_given}" for n in NAMES],
    }
    return tuple(dict.fromkeys(value for kind in kinds for value in parts[kind]))


@st.composite
def _string_value(draw: st.DrawFn, texts: tuple[str, ...]) -> str:
    """A prefix of a stored string, in some other form (kana, width, case, accents)."""
    text = draw(_text_prefix(texts))
    form = TEXT_FORMS[draw(st.sampled_from(tuple(TEXT_FORMS)))]
    return escape(form(text))


def _string_term(param: str, texts: tuple[str, ...]) -> st.SearchStrategy[Term]:
    plain = st.tuples(st.just(param), _or(_string_value(texts)))
    exact = st.tuples(st.just(f"{param}:exact"), _or(st.sampled_from(texts).map(escape)))
    contains = st.tuples(st.just(f"{param}:contains"), _or(_string_value(texts)))
    missing = _missing(param)
    return st.one_of(plain, plain, exact, contains, missing)


def _or(alternatives: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(alternatives, min_size=1, max_size=2).map(",".join)


def _missing(param: str) -> st.SearchStrategy[Term]:
    return st.tuples(st.just(f"{param}:missing"), st.sampled_from(("true", "false")))


def _token(system: str | None, code: str) -> str:
    return escape(code) if system is None else f"{escape(system)}|{escape(code)}"


@st.composite
def _coded_value(draw: st.DrawFn, codings: tuple[tuple[str, str], ...]) -> str:
    system, code = draw(st.sampled_from(codings))
    form = draw(st.sampled_from(("system|code", "code", "|code", "system|")))
    return {
        "system|code": _token(system, code),
        "code": _token(None, code),
        "|code": f"|{escape(code)}",
        "system|": f"{escape(system)}|",
    }[form]


def _token_term(
    param: str, codings: tuple[tuple[str, str], ...], texts: tuple[str, ...] = ()
) -> st.SearchStrategy[Term]:
    choices = [
        st.tuples(st.just(param), _or(_coded_value(codings))),
        st.tuples(st.just(f"{param}:not"), _or(_coded_value(codings))),
        _missing(param),
    ]
    if texts:
        choices.append(st.tuples(st.just(f"{param}:text"), _or(_string_value(texts))))
    return st.one_of(*choices)


def _code_term(param: str, codes: tuple[str, ...]) -> st.SearchStrategy[Term]:
    """Tokens on plain codes (status, gender): no system."""
    value = _or(st.sampled_from(codes).map(escape))
    return st.one_of(st.tuples(st.just(param), value), st.tuples(st.just(f"{param}:not"), value), _missing(param))


@st.composite
def _date_value(draw: st.DrawFn, years: tuple[int, ...]) -> str:
    prefix = draw(st.sampled_from(DATE_PREFIXES))
    return f"{prefix}{draw(_date_time(years, SEARCH_ZONES))}"


def _date_term(param: str, years: tuple[int, ...] = CLINICAL_YEARS) -> st.SearchStrategy[Term]:
    return st.one_of(st.tuples(st.just(param), _or(_date_value(years))), _missing(param))


@st.composite
def _quantity_value(draw: st.DrawFn) -> str:
    number = f"{draw(st.sampled_from(NUMBER_PREFIXES))}{draw(st.sampled_from(SEARCH_NUMBERS))}"
    unit = draw(st.sampled_from(("", "%", "mg/dL", "kg")))
    form = draw(st.sampled_from(("number", "||unit", "|system|unit")))
    if form == "number" or not unit:
        return number
    return f"{number}||{escape(unit)}" if form == "||unit" else f"{number}|{UCUM}|{escape(unit)}"


@st.composite
def _code_value_quantity(draw: st.DrawFn) -> str:
    test = draw(st.sampled_from(LAB_TESTS))
    code = draw(st.sampled_from((_token(LOINC, test.loinc), _token(JLAC10, test.jlac10), _token(None, test.loinc))))
    return f"{code}${draw(_quantity_value())}"


def _reference_values(resource_type: str, ids: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(ids).flatmap(lambda rid: st.sampled_from((f"{resource_type}/{rid}", rid)))


def _subject_terms(param: str) -> list[st.SearchStrategy[Term]]:
    """Reference, typed reference, chains and multi-level chains on a Patient reference."""
    patients = (*PATIENT_IDS[:4], GHOST_PATIENT)
    return [
        st.tuples(st.just(param), _or(_reference_values("Patient", patients))),
        st.tuples(st.just(f"{param}:Patient"), _or(st.sampled_from(patients))),
        st.tuples(st.just(f"{param}:Patient.name"), _or(_string_value(_name_parts(("family", "kana"))))),
        st.tuples(st.just(f"{param}.birthdate"), _or(_date_value(BIRTH_YEARS))),
        st.tuples(st.just(f"{param}.gender"), st.sampled_from(("male", "female"))),
        st.tuples(st.just(f"{param}:Patient.identifier"), _or(_coded_value(_patient_identifiers()))),
        st.tuples(st.just(f"{param}:Patient.organization.name"), _or(_string_value(ORG_NAMES))),
    ]


def _patient_identifiers() -> tuple[tuple[str, str], ...]:
    return tuple((system, value) for system in PATIENT_ID_SYSTEMS for value in PATIENT_ID_VALUES)


def _common_terms(id_prefix: str) -> list[st.SearchStrategy[Term]]:
    ids = tuple(f"{id_prefix}-{i}" for i in range(1, 5))
    tags = tuple((TAG_SYSTEM, code) for code in TAG_CODES)
    return [
        st.tuples(st.just("_id"), _or(st.sampled_from(ids))),
        _date_term("_lastUpdated", (2024, 2025)),
        _token_term("_tag", tags),
    ]


def _patient_terms() -> list[st.SearchStrategy[Term]]:
    organizations = ("org-1", "org-2", "org-3")
    lab = tuple((LOINC, test.loinc) for test in LAB_TESTS) + tuple((JLAC10, test.jlac10) for test in LAB_TESTS)
    return [
        _string_term("name", _name_parts(("family", "given", "kana"))),
        _string_term("family", _name_parts(("family",))),
        _string_term("given", _name_parts(("given",))),
        _string_term("jp-kana-sort", _name_parts(("kana",))),
        _string_term("address-city", CITIES),
        _string_term("address", LINES + CITIES),
        _string_term("address-postalcode", POSTAL_CODES),
        _code_term("gender", ("male", "female", "other", "unknown")),
        _code_term("active", ("true", "false")),
        _token_term("identifier", _patient_identifiers(), ("診察券",)),
        st.tuples(
            st.just("identifier:of-type"),
            st.sampled_from(PATIENT_ID_VALUES).map(lambda v: f"{ID_TYPE_SYSTEM}|MR|{escape(v)}"),
        ),
        st.tuples(st.just("phone"), _or(st.sampled_from(PHONES))),
        st.tuples(st.just("_profile"), st.just(JP_PATIENT_PROFILE)),
        _date_term("birthdate", BIRTH_YEARS),
        st.tuples(st.just("organization"), _or(_reference_values("Organization", organizations))),
        st.tuples(st.just("organization.name"), _or(_string_value(ORG_NAMES))),
        _missing("general-practitioner"),
        st.tuples(st.just("_has:Observation:patient:code"), _or(_coded_value(lab))),
        st.tuples(st.just("_has:Condition:subject:code"), _or(_coded_value(_icd10()))),
        st.tuples(st.just("_has:MedicationRequest:patient:status"), st.sampled_from(("active", "stopped"))),
        st.tuples(st.just("_has:Observation:patient:value-quantity"), _quantity_value()),
        *_common_terms("pat"),
    ]


def _icd10() -> tuple[tuple[str, str], ...]:
    return tuple((ICD10, code) for code, _ in CONDITIONS)


def _observation_terms() -> list[st.SearchStrategy[Term]]:
    lab = tuple((LOINC, t.loinc) for t in LAB_TESTS) + tuple((JLAC10, t.jlac10) for t in LAB_TESTS)
    return [
        _token_term("code", lab, tuple(t.display for t in LAB_TESTS)),
        _code_term("status", ("final", "preliminary", "amended")),
        _token_term("category", ((OBSERVATION_CATEGORY, "laboratory"), (OBSERVATION_CATEGORY, "vital-signs"))),
        st.one_of(st.tuples(st.just("value-quantity"), _or(_quantity_value())), _missing("value-quantity")),
        _string_term("value-string", OBSERVATION_STRINGS),
        _date_term("date"),
        st.tuples(st.just("code-value-quantity"), _or(_code_value_quantity())),
        st.tuples(st.just("component-code-value-quantity"), _or(_code_value_quantity())),
        st.one_of(  # searched as code-value-quantity or component-code-value-quantity
            st.tuples(st.just("combo-code-value-quantity"), _or(_code_value_quantity())),
            _missing("combo-code-value-quantity"),
        ),
        _token_term("combo-code", lab, tuple(t.display for t in LAB_TESTS)),  # searched on code and component-code
        st.one_of(st.tuples(st.just("combo-value-quantity"), _or(_quantity_value())), _missing("combo-value-quantity")),
        st.tuples(st.just("patient"), _or(_reference_values("Patient", PATIENT_IDS[:4]))),
        st.tuples(st.just("patient.name"), _or(_string_value(_name_parts(("family", "kana"))))),
        *_subject_terms("subject"),
        *_common_terms("obs"),
    ]


def _condition_terms() -> list[st.SearchStrategy[Term]]:
    return [
        _token_term("code", _icd10(), tuple(display for _, display in CONDITIONS)),
        _token_term("clinical-status", ((CONDITION_CLINICAL, "active"), (CONDITION_CLINICAL, "resolved"))),
        _date_term("onset-date"),
        _date_term("recorded-date"),
        *_subject_terms("subject"),
        *_subject_terms("patient")[:3],
        *_common_terms("cond"),
    ]


def _encounter_terms() -> list[st.SearchStrategy[Term]]:
    return [
        _token_term("class", tuple((ACT_CODE, c) for c in ENCOUNTER_CLASSES)),
        _code_term("status", ("finished", "in-progress", "planned")),
        _date_term("date"),
        *_subject_terms("subject"),
        *_common_terms("enc"),
    ]


def _medication_request_terms() -> list[st.SearchStrategy[Term]]:
    yj = tuple((YJ, code) for code, _ in MEDICATIONS)
    return [
        _token_term("code", yj, tuple(display for _, display in MEDICATIONS)),
        _code_term("status", ("active", "completed", "stopped")),
        _date_term("authoredon"),
        st.tuples(st.just("medication"), _or(_reference_values("Medication", ("med-1", "med-2")))),
        st.tuples(st.just("medication.code"), _or(_coded_value(yj))),
        _missing("medication"),
        *_subject_terms("subject"),
        *_subject_terms("patient")[:4],
        *_common_terms("mr"),
    ]


def _medication_terms() -> list[st.SearchStrategy[Term]]:
    yj = tuple((YJ, code) for code, _ in MEDICATIONS)
    return [
        _token_term("code", yj, tuple(display for _, display in MEDICATIONS)),
        st.tuples(st.just("_has:MedicationRequest:medication:status"), st.sampled_from(("active", "completed"))),
        *_common_terms("med"),
    ]


def _organization_terms() -> list[st.SearchStrategy[Term]]:
    return [
        _string_term("name", ORG_NAMES),
        _string_term("address-city", CITIES),
        _token_term("identifier", tuple((ORG_ID_SYSTEM, v) for v in ORG_ID_VALUES)),
        _code_term("active", ("true", "false")),
        st.tuples(st.just("_has:Patient:organization:gender"), st.sampled_from(("male", "female"))),
        st.tuples(st.just("_has:Patient:organization:_has:Observation:patient:status"), st.just("final")),
        *_common_terms("org"),
    ]


def _practitioner_terms() -> list[st.SearchStrategy[Term]]:
    return [
        _string_term("name", _name_parts(("family", "given", "kana"))),
        _string_term("family", _name_parts(("family",))),
        _code_term("gender", ("male", "female")),
        st.tuples(st.just("_has:Patient:general-practitioner:birthdate"), _or(_date_value(BIRTH_YEARS))),
        *_common_terms("prac"),
    ]


TERMS: dict[str, Callable[[], list[st.SearchStrategy[Term]]]] = {
    "Patient": _patient_terms,
    "Observation": _observation_terms,
    "Condition": _condition_terms,
    "Encounter": _encounter_terms,
    "MedicationRequest": _medication_request_terms,
    "Medication": _medication_terms,
    "Organization": _organization_terms,
    "Practitioner": _practitioner_terms,
}
RESOURCE_TYPES = tuple(TERMS)


def encode(terms: list[Term], *, percent_encode_all: bool) -> str:
    """A query string: fully percent-encoded, or raw with only what a URL cannot carry encoded."""
    if percent_encode_all:
        return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in terms)
    return "&".join(f"{name}={_encode_minimal(value)}" for name, value in terms)


def _encode_minimal(value: str) -> str:
    """Keep Japanese text and separators readable; encode only `%&=+# ` (which would change meaning)."""
    return "".join(quote(c, safe="") if c in "%&=+# " else c for c in value)


def query(resource_type: str) -> st.SearchStrategy[str]:
    """A search query for `resource_type`: 1-3 AND-ed parameters, each with 1-2 OR-ed values.

    Half the queries have a single parameter: random AND-combinations mostly find nothing, and an
    empty result tells the differential test little.
    """
    term = st.one_of(*TERMS[resource_type]())
    terms = st.one_of(st.lists(term, min_size=1, max_size=1), st.lists(term, min_size=2, max_size=3))
    return st.builds(
        lambda drawn, all_encoded: encode(drawn, percent_encode_all=all_encoded),
        terms,
        st.booleans(),
    )
