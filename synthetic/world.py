"""The region before anyone lives in it: the period, the districts and the institutions with their codes."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from core.formats import check_digit
from synthetic.catalog import places
from synthetic.catalog.clinical import CARE_SERVICE_TYPES, DEPARTMENTS
from synthetic.catalog.names import FAMILY_NAMES, given_names_for
from synthetic.model import Address, CareServiceType, Department, Institution, InstitutionKind, Region

PROJECT_IDS = "https://tsunagi.example.jp/fhir/IdSystem"
MEDICAL_INSTITUTION_SYSTEM = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"
LTC_PROVIDER_SYSTEM = f"{PROJECT_IDS}/ltc-provider-number"
LOCAL_GOVERNMENT_SYSTEM = f"{PROJECT_IDS}/local-government-code"
INSTITUTION_PATIENT_OID = "urn:oid:1.2.392.100495.20.3.51.1"  # + 10-digit 医療機関コード (JP Core)

HOSPITAL_NAMES = ("綱木市立病院", "つなぎ中央病院", "綱木記念病院", "港町総合病院", "緑が丘リハビリテーション病院")
CLINIC_KINDS = (
    ("内科クリニック", ("internal",)),
    ("整形外科", ("orthopedics",)),
    ("内科・循環器科医院", ("internal", "cardiology")),
    ("ファミリークリニック", ("internal", "dermatology")),
    ("消化器内科", ("gastroenterology", "internal")),
)
PHARMACY_NAMES = ("つなぎ薬局", "さくら調剤薬局", "みどり薬局", "港町ファーマシー", "ひまわり薬局")
CARE_FACILITY_KINDS = (
    ("デイサービスセンター", ("15", "43")),
    ("ヘルパーステーション", ("11", "17")),
    ("特別養護老人ホーム", ("51", "21")),
    ("リハビリデイケア", ("16", "13")),
)
HOSPITAL_DEPARTMENTS = (
    "internal",
    "surgery",
    "orthopedics",
    "neurosurgery",
    "cardiology",
    "respiratory",
    "gastroenterology",
    "urology",
    "ophthalmology",
    "psychiatry",
    "emergency",
)


def region_build(*, seed: int, people: int, as_of: date, years: int) -> Region:
    """Everything about the region that does not depend on its people; a function of its arguments only."""
    rng = random.Random(f"{seed}:region")
    district_count = min(10, max(5, math.ceil(people / 10_000)))
    districts = places.DISTRICTS[:district_count]
    counts = {
        InstitutionKind.HOSPITAL: max(2, math.ceil(people / 30_000)),
        InstitutionKind.CLINIC: max(2, math.ceil(people / 8_000)),
        InstitutionKind.FHIR_CLINIC: 1,
        InstitutionKind.PHARMACY: max(2, math.ceil(people / 7_000)),
        InstitutionKind.CARE_FACILITY: max(2, math.ceil(people / 12_000)),
        InstitutionKind.SUPPORT_CENTER: max(1, math.ceil(people / 30_000)),
        InstitutionKind.MUNICIPALITY: 1,
    }
    builder = _InstitutionBuilder(rng, districts)
    institutions = tuple(
        builder.build(kind, number) for kind, count in counts.items() for number in range(1, count + 1)
    )
    start = years_before(as_of, years) + timedelta(days=1)
    return Region(
        seed=seed,
        people=people,
        start=start,
        as_of=as_of,
        prefecture=places.PREFECTURE,
        prefecture_number=places.PREFECTURE_NUMBER,
        city=places.CITY,
        municipality_code=places.MUNICIPALITY_CODE,
        ltc_insurer_number=_insurer("22999"),
        nhi_insurer_number=_insurer("22998"),
        late_elderly_insurer_number=_insurer("3922999"),
        districts=tuple(name for name, _ in districts),
        institutions=institutions,
    )


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _insurer(digits: str) -> str:
    return digits + check_digit(digits)


def district_address(rng: random.Random, district: tuple[str, str], *, apartment: bool) -> Address:
    """A plausible address in a district: 番地 and 号, sometimes a flat in a named building."""
    name, postal_code = district
    street = f"{rng.randint(1, 30)}番{rng.randint(1, 25)}号"
    building = f"{rng.choice(places.BUILDINGS)}{rng.randint(1, 4)}0{rng.randint(1, 8)}" if apartment else ""
    return Address(postal_code, places.PREFECTURE, places.CITY, name, street, building)


def phone_number(rng: random.Random, *, mobile: bool) -> str:
    if mobile:
        return f"0{rng.choice('789')}0-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
    return f"{places.AREA_CODE}-{rng.randint(20, 89)}-{rng.randint(1000, 9999)}"


class _InstitutionBuilder:
    """Gives each institution its name, district, 10-digit code and staff, in a fixed order."""

    def __init__(self, rng: random.Random, districts: tuple[tuple[str, str], ...]) -> None:
        self.rng = rng
        self.districts = districts
        self.serial = 0

    def build(self, kind: InstitutionKind, number: int) -> Institution:
        self.serial += 1
        district = self.districts[(self.serial - 1) % len(self.districts)]
        code = f"{kind.value}-{number:02d}" if kind is not InstitutionKind.MUNICIPALITY else "municipality"
        name, departments, services = self._naming(kind, number, district[0])
        organization_system, organization_number, patient_system = self._numbers(kind)
        return Institution(
            code=code,
            kind=kind,
            name=name,
            organization_system=organization_system,
            organization_number=organization_number,
            patient_identifier_system=patient_system,
            address=district_address(self.rng, district, apartment=False),
            phone=phone_number(self.rng, mobile=False),
            departments=departments,
            service_types=services,
            staff=tuple(self._staff_name() for _ in range(6 if kind is InstitutionKind.HOSPITAL else 3)),
        )

    def _naming(
        self, kind: InstitutionKind, number: int, district: str
    ) -> tuple[str, tuple[Department, ...], tuple[CareServiceType, ...]]:
        pick = (number - 1) % 5
        if kind is InstitutionKind.HOSPITAL:
            departments = tuple(DEPARTMENTS[key] for key in HOSPITAL_DEPARTMENTS)
            return _numbered(HOSPITAL_NAMES, number), departments, ()
        if kind in (InstitutionKind.CLINIC, InstitutionKind.FHIR_CLINIC):
            suffix, keys = CLINIC_KINDS[pick if kind is InstitutionKind.CLINIC else 3]
            family = FAMILY_NAMES[(number * 7 + (kind is InstitutionKind.FHIR_CLINIC) * 13) % len(FAMILY_NAMES)][0]
            return f"{family}{suffix}", tuple(DEPARTMENTS[key] for key in keys), ()
        if kind is InstitutionKind.PHARMACY:
            return f"{_numbered(PHARMACY_NAMES, number)} {district}店", (), ()
        if kind is InstitutionKind.CARE_FACILITY:
            suffix, codes = CARE_FACILITY_KINDS[(number - 1) % len(CARE_FACILITY_KINDS)]
            return f"{district}{suffix}", (), tuple(CARE_SERVICE_TYPES[code] for code in codes)
        if kind is InstitutionKind.SUPPORT_CENTER:
            return f"{places.CITY}{district}地域包括支援センター", (), (CARE_SERVICE_TYPES["A5"],)
        return places.CITY, (), ()

    def _numbers(self, kind: InstitutionKind) -> tuple[str, str, str]:
        if kind is InstitutionKind.MUNICIPALITY:
            code = places.MUNICIPALITY_CODE
            return LOCAL_GOVERNMENT_SYSTEM, code, f"{PROJECT_IDS}/resident/{code}"
        if kind in (InstitutionKind.CARE_FACILITY, InstitutionKind.SUPPORT_CENTER):
            digits = f"{places.PREFECTURE_NUMBER}741{self.serial:04d}"
            number = digits + check_digit(digits)
            return LTC_PROVIDER_SYSTEM, number, f"{PROJECT_IDS}/ltc-client/{number}"
        score_table = "4" if kind is InstitutionKind.PHARMACY else "1"
        seven = f"41{1000 + self.serial:04d}"
        number = f"{places.PREFECTURE_NUMBER}{score_table}{seven}{check_digit(seven)}"
        return MEDICAL_INSTITUTION_SYSTEM, number, f"{INSTITUTION_PATIENT_OID}{number}"

    def _staff_name(self) -> str:
        family = self.rng.choice(FAMILY_NAMES)[0]
        given = self.rng.choice(given_names_for(self.rng.randint(1955, 1995), self.rng.random() < 0.4))[0]
        return f"{family} {given}"


def _numbered(names: tuple[str, ...], number: int) -> str:
    base = names[(number - 1) % len(names)]
    return base if number <= len(names) else f"{base}第{number // len(names) + 1}分院"
