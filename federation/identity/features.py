"""What identity matching reads from a Patient: its demographics in matching form, computed once per
stored version so that comparing two records costs only set and string equality."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from federation.identity.normalize import address_key, kana_key, kanji_key, phone_key, postal_key

NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
# Identifiers that name one insured person (not a source's chart number): the health insurance card's
# 被保険者個人識別子 and the 介護保険 被保険者番号 (its system names the insurer).
INSURANCE_MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
LTC_INSURED_NUMBER = "https://tsunagi.example.jp/fhir/IdSystem/ltc-insured-number/"

_KANA_ONLY = re.compile(r"[\u3040-\u30ff\uff65-\uff9f \u3000]+")
_FIRST_SPACE = re.compile(r"[ \u3000]+")
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PAST_NAME_USES = frozenset({"old", "maiden"})
_SEXES = frozenset({"male", "female", "other"})  # "unknown" says no more than a missing gender


@dataclass(frozen=True, slots=True)
class PersonFeatures:
    """One Patient's demographics in matching form ("" / None / empty set when the Patient lacks them)."""

    kana_family: str
    kana_given: str
    kanji_family: str
    kanji_given: str
    birth_date: date | None
    sex: str
    postal_codes: frozenset[str]
    addresses: frozenset[str]
    phones: frozenset[str]
    insured_keys: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        """A JSON object whose lists are sorted, so the same features always give the same JSON."""
        return {
            "kana_family": self.kana_family,
            "kana_given": self.kana_given,
            "kanji_family": self.kanji_family,
            "kanji_given": self.kanji_given,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "postal_codes": sorted(self.postal_codes),
            "addresses": sorted(self.addresses),
            "phones": sorted(self.phones),
            "insured_keys": sorted(self.insured_keys),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PersonFeatures:
        birth_date = data["birth_date"]
        return cls(
            kana_family=data["kana_family"],
            kana_given=data["kana_given"],
            kanji_family=data["kanji_family"],
            kanji_given=data["kanji_given"],
            birth_date=date.fromisoformat(birth_date) if birth_date else None,
            sex=data["sex"],
            postal_codes=frozenset(data["postal_codes"]),
            addresses=frozenset(data["addresses"]),
            phones=frozenset(data["phones"]),
            insured_keys=frozenset(data["insured_keys"]),
        )


def patient_features(patient: Mapping[str, Any]) -> PersonFeatures:
    """The features of a FHIR R4 / JP Core Patient; a missing or malformed element gives an empty field."""
    kanji_family, kanji_given = _name_parts(patient, "IDE")
    kana_family, kana_given = _name_parts(patient, "SYL")
    gender = _text(patient.get("gender"))
    addresses = list(_dicts(patient, "address"))
    return PersonFeatures(
        kana_family=kana_key(kana_family),
        kana_given=kana_key(kana_given),
        kanji_family=kanji_key(kanji_family),
        kanji_given=kanji_key(kanji_given),
        birth_date=_birth_date(patient.get("birthDate")),
        sex=gender if gender in _SEXES else "",
        postal_codes=_keys(postal_key, (address.get("postalCode") for address in addresses)),
        addresses=_keys(address_key, (_address_text(address) for address in addresses)),
        phones=_keys(phone_key, (point.get("value") for point in _dicts(patient, "telecom") if _is_phone(point))),
        insured_keys=frozenset(_insured_keys(patient)),
    )


def _dicts(resource: Mapping[str, Any], element: str) -> Iterator[Mapping[str, Any]]:
    """The objects of a repeating element, skipping anything that is not one."""
    values = resource.get(element)
    if isinstance(values, list):
        yield from (value for value in values if isinstance(value, Mapping))


def _name_parts(patient: Mapping[str, Any], representation: str) -> tuple[str, str]:
    """(family, given) of the first current name in the representation (IDE kanji, SYL kana) that has them."""
    for name in _dicts(patient, "name"):
        if _text(name.get("use")) in _PAST_NAME_USES:
            continue
        family, given = _parts(name)
        if (family or given) and _representation(name, family + given) == representation:
            return family, given
    return "", ""


def _parts(name: Mapping[str, Any]) -> tuple[str, str]:
    family = _text(name.get("family"))
    given_parts = name.get("given")
    given = "".join(_text(part) for part in given_parts) if isinstance(given_parts, list) else ""
    if family or given:
        return family, given
    # Text only: the family name is what comes before the first space; without one, which part is the
    # family name cannot be told, and a guess would make the name disagree with itself.
    parts = _FIRST_SPACE.split(_text(name.get("text")).strip(), maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


def _representation(name: Mapping[str, Any], written: str) -> str:
    """The name's iso21090-EN-representation code; without one, SYL for a kana-only name, else IDE."""
    for extension in _dicts(name, "extension"):
        if extension.get("url") == NAME_REPRESENTATION and isinstance(extension.get("valueCode"), str):
            return str(extension["valueCode"])
    return "SYL" if _KANA_ONLY.fullmatch(written) else "IDE"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _birth_date(value: object) -> date | None:
    """A full birth date; a partial one (1950, 1950-04) cannot be compared day by day, so it is None."""
    if not isinstance(value, str) or not _FULL_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _address_text(address: Mapping[str, Any]) -> str:
    """The address text, or its parts in the order a Japanese address is written when there is no text."""
    text = _text(address.get("text"))
    if text:
        return text
    lines = address.get("line")
    parts = [address.get("state"), address.get("district"), address.get("city")]
    return "".join(_text(part) for part in [*parts, *(lines if isinstance(lines, list) else [])])


def _is_phone(point: Mapping[str, Any]) -> bool:
    return point.get("system") == "phone"


def _keys(normalise: Callable[[str], str], values: Iterable[object]) -> frozenset[str]:
    """The non-empty matching forms of the string values."""
    keys = (normalise(value) for value in values if isinstance(value, str))
    return frozenset(key for key in keys if key)


def _insured_keys(patient: Mapping[str, Any]) -> Iterator[str]:
    for identifier in _dicts(patient, "identifier"):
        system, value = identifier.get("system"), identifier.get("value")
        if not isinstance(system, str) or not isinstance(value, str) or not value:
            continue
        if system == INSURANCE_MEMBER_ID or system.startswith(LTC_INSURED_NUMBER):
            yield f"{system}|{value}"
