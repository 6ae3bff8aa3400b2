"""Care CSV: what a 介護事業所's or 地域包括支援センター's care software exports (docs/connectors/care-csv.md).

No national standard covers these exports, so the project defines one in the shape real systems use: one
table per file, a header row of Japanese column names, CP932, CRLF, quoting by the csv module's rules,
dates as YYYYMMDD. Every source has all seven tables (maybe only the header), so the connector need not
guess which exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from core.formats import CARE_CSV_COLUMNS
from synthetic.model import (
    ChecklistResponse,
    Institution,
    InstitutionKind,
    Person,
    Region,
    Sex,
    SourceView,
)
from synthetic.output import Output
from synthetic.writers.cp932 import csv_rows, western

CLIENTS = "clients.csv"
CERTIFICATIONS = "certifications.csv"
SERVICES = "services.csv"
ADL = "adl.csv"
INCIDENTS = "incidents.csv"
CHECKLISTS = "checklists.csv"
VITALS = "vitals.csv"

COLUMNS = CARE_CSV_COLUMNS

SEX_CODES = {Sex.MALE: "1", Sex.FEMALE: "2"}
APPLICATIONS = {"new": "新規", "renewal": "更新", "change": "区分変更"}
FALL = "転倒"
PLACES = {"home": "自宅", "facility": "施設内", "outdoors": "屋外"}
INJURIES = {"none": "なし", "bruise": "打撲", "fracture": "骨折"}
UNDERWEIGHT_BMI = Decimal("18.5")


HEADERS = {name: csv_rows([columns]) for name, columns in COLUMNS.items()}


def write_person(region: Region, institution: Institution, person: Person, out: Output) -> None:
    """One row per client in clients.csv, and a row per record this source holds in the other tables."""
    code = institution.code
    view = person.views[code]
    client = view.patient_id
    tables: dict[str, list[Sequence[object]]] = {
        CLIENTS: [_client_row(region, institution, person, view)],
        CERTIFICATIONS: [
            (
                client,
                c.level.code,
                c.level.name,
                APPLICATIONS[c.application],
                western(c.applied_on),
                western(c.decided_on),
                western(c.valid_from),
                western(c.valid_to),
            )
            for c in person.certifications
        ],
        SERVICES: [
            (client, western(s.provided_on), s.service_type.code, s.service_type.name, s.units)
            for s in person.care_services
            if s.facility == code
        ],
        ADL: [
            (client, western(a.assessed_on), *a.scores, a.total) for a in person.adl_assessments if a.facility == code
        ],
        INCIDENTS: [
            (client, western(f.occurred_on), FALL, PLACES[f.place], INJURIES[f.injury])
            for f in person.falls
            if f.recorded_by == code
        ],
        CHECKLISTS: [_checklist_row(client, c) for c in person.checklists if c.institution == code],
        VITALS: [
            (client, _minute(v.measured_at), v.systolic, v.diastolic, v.pulse, v.temperature, v.weight_kg)
            for v in person.vital_signs
            if v.facility == code
        ],
    }
    for name, rows in tables.items():
        if rows:
            out.append_rows(name, HEADERS[name], csv_rows(rows))


def write_institution(region: Region, institution: Institution, out: Output) -> None:
    """Start every table with its header, so each file exists even when no client has a row in it."""
    for name, header in HEADERS.items():
        out.append_rows(name, header, b"")


def _minute(moment: datetime) -> str:
    return f"{western(moment)}{moment.hour:02d}{moment.minute:02d}"


def _client_row(region: Region, institution: Institution, person: Person, view: SourceView) -> tuple[str, ...]:
    """The client as this source registered them, with the current address of its record."""
    address = view.address_on(region.as_of)
    insurer, insured = _care_insurance(institution, person, view)
    return (
        view.patient_id,
        view.name.kanji,
        view.name.kana,
        western(view.birth_date),
        SEX_CODES[view.sex],
        address.postal_code,
        address.text,
        view.phone,
        insurer,
        insured,
        western(view.registered_on),
    )


def _care_insurance(institution: Institution, person: Person, view: SourceView) -> tuple[str, str]:
    """A care facility copies the 介護保険証 of every certified client; a support center only when its
    record has insurance details at all (it also sees people before any certification)."""
    insurance = person.care_insurance
    if insurance is None or not person.certifications:
        return "", ""
    if institution.kind is InstitutionKind.SUPPORT_CENTER and view.insurance is None:
        return "", ""
    return insurance.insurer_number, insurance.insured_number


def _checklist_row(client: str, response: ChecklistResponse) -> tuple[object, ...]:
    """はい = 1, いいえ = 0; item 12 is written as the BMI < 18.5 test on the measured height and weight."""
    answers = [int(answer) for answer in response.answers]
    height = response.height_cm
    answers[11] = int(response.weight_kg * 10_000 < UNDERWEIGHT_BMI * height * height)
    return (client, western(response.answered_on), *answers, height, response.weight_kg)
