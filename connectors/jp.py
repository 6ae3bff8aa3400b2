"""What every Japanese source needs alike: JP Core names, card identifiers, dates, and conditional entries.

Connectors share these so that the same person written by two sources comes out in the same shape (the
identity linking compares them) and every record follows connectors/base.py the same way: deterministic
uuid5 fullUrls, conditional PUT on a business identifier, conditional references to the patient.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import uuid
from datetime import date
from typing import Any
from urllib.parse import quote

from connectors.base import SourceInfo

Json = dict[str, Any]

JP_PROFILE = "http://jpfhir.jp/fhir/core/StructureDefinition/"
JP_EXTENSION = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/"
HL7_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/"
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
INSURER_NUMBER = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber"
MEDICAL_INSTITUTION = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"
INSTITUTION_PATIENT_OID = "urn:oid:1.2.392.100495.20.3.51.1"  # + 10-digit 医療機関コード
INSURANCE_MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
PROJECT_SYSTEMS = "https://tsunagi.example.jp/fhir/"
# 介護保険 被保険者番号 are unique per 保険者 only, so the system names the insurer: `…/ltc-insured-number/229997`.
LTC_INSURED_NUMBER = f"{PROJECT_SYSTEMS}IdSystem/ltc-insured-number/"
LOCAL_CODE_SYSTEM = f"{PROJECT_SYSTEMS}CodeSystem/local/"

# Fixed namespace of the connectors' fullUrls: the same record gives the same urn:uuid on every run.
FULL_URL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://tsunagi.example.jp/connectors")
_FULL_URL_NAMESPACE_BYTES = FULL_URL_NAMESPACE.bytes  # UUID.bytes converts its int on every call

# Characters with a meaning in a FHIR search value, escaped with a backslash (FHIR search §3.1.1.4.8).
_SEARCH_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", ",": "\\,", "$": "\\$"})
# What may stay unencoded in a conditional URL's query: URL characters of identifier systems, and the
# backslash escapes; anything else (&, +, #, %, spaces, kana) is percent-encoded.
_QUERY_SAFE = ":/|\\,$-._~"
# Text that the escaping and encoding above leave as it is: a value without a character to escape, a system
# without one to percent-encode (what quote never encodes, and _QUERY_SAFE). Most are such: they skip both.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.~:/-]*")
_PLAIN_SYSTEM = re.compile(r"[A-Za-z0-9_.~:/|\\,$-]*")
_SPACES = re.compile(r"[ \u3000]+")


def normalise_kana(text: str) -> str:
    """Kana as JP Core's SYL name wants it: NFKC turns half-width katakana (ﾀﾛｳ) and full-width spaces into
    full-width katakana and ASCII spaces. Kanji are never NFKC'd: it would fold registered 旧字体."""
    return unicodedata.normalize("NFKC", text)


def human_name(representation: str, text: str) -> Json | None:
    """One JP_HumanName (IDE kanji or SYL kana) from "family given"; None for an empty name. A name
    without a space is kept as text only: which part is the family name cannot be told."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return None
    name: Json = {
        "extension": [{"url": NAME_REPRESENTATION, "valueCode": representation}],
        "use": "usual",
        "text": text,
    }
    family, _, given = text.partition(" ")
    if given:
        name["family"] = family
        name["given"] = given.split(" ")
    return name


def human_names(kanji: str, kana: str) -> list[Json]:
    """JP_Patient.name: the kanji name (IDE) then the reading (SYL), each present only when given."""
    names = (human_name("IDE", kanji), human_name("SYL", normalise_kana(kana)))
    return [name for name in names if name is not None]


def full_url(source_code: str, record_key: str, resource_type: str) -> str:
    """`urn:uuid:` of uuid5(source, record key, type): stable across runs and distinct across sources.

    The digits of `uuid.uuid5`, formatted from its SHA-1 without building a UUID object (which took more than
    half the time; one is made for every record of every connector)."""
    name = f"{source_code}/{record_key}/{resource_type}".encode()
    digest = bytearray(hashlib.sha1(_FULL_URL_NAMESPACE_BYTES + name).digest()[:16])  # noqa: S324 (UUID v5)
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    hex_digits = digest.hex()
    return f"urn:uuid:{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-{hex_digits[16:20]}-{hex_digits[20:]}"


def identifier_query(system: str, value: str) -> str:
    """`identifier=<system>|<value>` for a conditional URL, escaped so that any value matches only itself."""
    if _PLAIN_VALUE.fullmatch(value) and _PLAIN_SYSTEM.fullmatch(system):
        return f"identifier={system}|{value}"
    return "identifier=" + quote(f"{system}|{value.translate(_SEARCH_ESCAPES)}", safe=_QUERY_SAFE)


@functools.lru_cache(maxsize=4096)  # the same Patients and Encounters are named by record after record
def conditional_reference(resource_type: str, system: str, value: str) -> str:
    """`Patient?identifier=<system>|<value>`: a reference the server resolves to the one stored match."""
    return f"{resource_type}?{identifier_query(system, value)}"


def put_entry(url: str, resource: Json, system: str, value: str) -> Json:
    """A conditional update on the business identifier (system, value), which `resource` must carry."""
    return {
        "fullUrl": url,
        "resource": resource,
        "request": {"method": "PUT", "url": conditional_reference(resource["resourceType"], system, value)},
    }


def create_entry(url: str, resource: Json, system: str, value: str) -> Json:
    """A conditional create: stored only if no resource has the identifier yet, never overwritten. For
    what another source owns (a minimal Patient that its master data fills in, an insurer)."""
    return {
        "fullUrl": url,
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": identifier_query(system, value),
        },
    }


def record_entry(source: SourceInfo, record_key: str, resource: Json) -> Json:
    """A non-Patient resource under its record identifier `<RECORD_SYSTEM><source>|<record key>` (put first
    in `resource.identifier`), updated conditionally on it, with its deterministic fullUrl."""
    resource_type = resource["resourceType"]
    identifiers = [{"system": source.record_system, "value": record_key}, *resource.get("identifier", [])]
    head = {key: resource[key] for key in ("resourceType", "meta", "extension") if key in resource}
    rest = {key: value for key, value in resource.items() if key not in head and key != "identifier"}
    stored = {**head, "identifier": identifiers, **rest}
    return put_entry(full_url(source.code, record_key, resource_type), stored, source.record_system, record_key)


def patient_reference(source: SourceInfo, number: str, patient_full_url: str | None = None) -> Json:
    """The patient as a record's resources refer to it: the Patient entry of the same record when there is
    one, else the conditional reference on the source's patient number."""
    if patient_full_url is not None:
        return {"reference": patient_full_url}
    return {"reference": conditional_reference("Patient", source.patient_identifier_system, number)}


def local_coding(source_code: str, table: str, code: str, display: str | None = None) -> Json:
    """A source's own code, kept under `…/CodeSystem/local/<source>/<table>` when no standard URI exists."""
    coding: Json = {"system": f"{LOCAL_CODE_SYSTEM}{source_code}/{table}", "code": code}
    if display:
        coding["display"] = display
    return coding


def insurance_member_id(insurer: str, symbol: str, number: str, branch: str) -> str:
    """JP Core 被保険者個人識別子 `<保険者番号 8 digits>:<記号>:<番号>:<枝番>`, empty parts kept (the colons
    stay); a 記号 or 番号 with kana or kanji is written all full-width, as the JP Core rule says."""
    return f"{insurer.zfill(8)}:{_card_part(symbol)}:{_card_part(number)}:{branch}"


_FULL_WIDTH = str.maketrans({chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)})


def _card_part(text: str) -> str:
    return text if text.isascii() else text.translate(_FULL_WIDTH)


def ltc_insured_identifier(insurer: str, number: str) -> Json:
    """介護保険 被保険者番号 as a Patient identifier, under its 保険者's system."""
    return {"system": f"{LTC_INSURED_NUMBER}{insurer}", "value": number}


class FieldError(ValueError):
    """Input that cannot be mapped: the field (a column, segment field or FHIR path) and one sentence why;
    a connector turns it into the record's RecordProblem."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class DateError(ValueError):
    """A date field that is not a date; the message completes "<field> '<value>' ..." as a sentence."""


_YYYYMMDD = re.compile(r"\d{8}")


def parse_yyyymmdd(text: str) -> date:
    """A `YYYYMMDD` date; DateError for another form or a day the calendar lacks (20240230)."""
    if not _YYYYMMDD.fullmatch(text):
        raise DateError("is not a date in the YYYYMMDD form")
    return _calendar_date(int(text[:4]), int(text[4:6]), int(text[6:]))


def iso_date(text: str) -> str:
    """`YYYYMMDD` as FHIR's `YYYY-MM-DD`, validated."""
    return parse_yyyymmdd(text).isoformat()


def _calendar_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError("is not a calendar date") from None


# Eras from their first day (明治 from the day the era name was proclaimed); letters and the digit codes of
# レセプト / JAHIS (1 明治 ... 5 令和).
ERAS: dict[str, tuple[str, date]] = {
    "明治": ("M", date(1868, 10, 23)),
    "大正": ("T", date(1912, 7, 30)),
    "昭和": ("S", date(1926, 12, 25)),
    "平成": ("H", date(1989, 1, 8)),
    "令和": ("R", date(2019, 5, 1)),
}
_ERA_BY_KEY = {
    key: name for number, (name, (letter, _)) in enumerate(ERAS.items(), start=1) for key in (name, letter, str(number))
}
_ERA_ORDER = list(ERAS)
# 令和7年3月31日, 令和元年5月1日, R7.3.31, R07/03/31, H31-04-30, R070331, 5070331 (after NFKC).
_ERA_SEPARATED = re.compile(
    r"(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|\d{1,2})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})日?"
)
_ERA_COMPACT = re.compile(r"([MTSHR1-5])(\d{2})(\d{2})(\d{2})")


def parse_era_date(text: str) -> date:
    """A 和暦 date (kanji era name or its letter or digit code, 元年 for year 1, full-width digits too);
    DateError for another form, a day the calendar lacks, or a day outside the era (平成31年5月1日)."""
    normalised = unicodedata.normalize("NFKC", text).strip().upper()
    match = _ERA_SEPARATED.fullmatch(normalised) or _ERA_COMPACT.fullmatch(normalised)
    if match is None:
        raise DateError("is not a Japanese-era date")
    era_key, year_text, month, day = match.groups()
    era = _ERA_BY_KEY[era_key]
    first_day = ERAS[era][1]
    year = 1 if year_text == "元" else int(year_text)
    if year == 0:
        raise DateError(f"is not a date: {era} has no year 0")
    result = _calendar_date(first_day.year + year - 1, int(month), int(day))
    following = _ERA_ORDER.index(era) + 1
    end = ERAS[_ERA_ORDER[following]][1] if following < len(_ERA_ORDER) else None
    if result < first_day or (end is not None and result >= end):
        raise DateError(f"is not a day of the {era} era")
    return result
