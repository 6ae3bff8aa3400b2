"""The generator's model of the region: people, what happened to them, and how each source knows them.

Writers read only these types. Times are naive and mean Asia/Tokyo local time; writers add +09:00.
A person's life is simulated once; each source then sees it through a `SourceView` (its own patient id and
its own, sometimes noisy or stale, copy of the demographics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

# --- catalog entries (static tables in synthetic.catalog) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """A diagnosis the generator can give: MEDIS 病名 codes are illustrative, ICD-10 codes are real."""

    key: str
    name: str  # 標準病名 (Japanese)
    icd10: str  # e.g. "I10", "E11.9"
    medis_key: str  # 8-digit 病名管理番号 (illustrative)
    medis_exchange: str  # 4-character 交換用コード (illustrative)
    sensitive: bool = False  # psychiatric etc.; the ingest pipeline labels these


@dataclass(frozen=True, slots=True)
class Drug:
    """One product: YJ code (first 7 characters = the ingredient), HOT9 and レセプト電算 codes."""

    key: str
    name: str  # brand-style product name, full-width as pharmacies print it
    generic_name: str  # 一般名
    yj: str  # 12 characters
    hot9: str
    receipt_code: str  # 9-digit レセプト電算処理システム医薬品コード
    form: DosageForm
    unit: str  # 錠, カプセル, g, 包, 枚, mL
    unit_code: str  # MERIT-9 unit (TAB, CAP, G, PKT, SHT, ML)
    daily_dose: Decimal  # units per day (内服), per use (屯服) or per dispensing (外用)
    usage_code: str  # JAMI 16-digit usage code
    usage_text: str  # 用法名称

    @property
    def ingredient(self) -> str:
        """Ingredient key used by the polypharmacy indicator: the YJ code's first 7 characters."""
        return self.yj[:7]


class DosageForm(StrEnum):
    """JAHIS 剤形コード."""

    ORAL = "1"  # 内服
    AS_NEEDED = "3"  # 屯服
    INJECTION = "4"  # 注射
    TOPICAL = "5"  # 外用


@dataclass(frozen=True, slots=True)
class LabTest:
    key: str
    name: str
    jlac10: str  # 17 characters
    unit: str  # UCUM-style, e.g. "mg/dL"
    low: Decimal | None  # reference range
    high: Decimal | None
    specimen_code: str  # JLAC10 material code: 023 血清, 019 全血, 001 尿
    specimen_name: str


@dataclass(frozen=True, slots=True)
class Vaccine:
    key: str
    name: str
    code: str  # 予防接種 code in the project's vaccine code system
    yj: str


@dataclass(frozen=True, slots=True)
class CareLevel:
    """要介護状態区分: 12/13 要支援1-2, 21-25 要介護1-5."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class CareServiceType:
    """サービス種類コード (2 characters) and its name."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Department:
    """SS-MIX2 診療科 code and name."""

    code: str
    name: str


# --- the region --------------------------------------------------------------------------------------------


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class Address:
    postal_code: str  # "422-8033"
    prefecture: str  # "静岡県"
    city: str  # "綱木市"
    district: str  # 町丁目, e.g. "本町二丁目"; the welfare reports group by it
    street: str  # "5番21号"
    building: str = ""  # "つなぎハイツ203"

    @property
    def text(self) -> str:
        return f"{self.prefecture}{self.city}{self.district}{self.street}{self.building}"


@dataclass(frozen=True, slots=True)
class PersonName:
    family_kanji: str
    given_kanji: str
    family_kana: str  # full-width katakana unless a source writes half-width
    given_kana: str

    @property
    def kanji(self) -> str:
        return f"{self.family_kanji} {self.given_kanji}"

    @property
    def kana(self) -> str:
        return f"{self.family_kana} {self.given_kana}"


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"  # SS-MIX2
    CLINIC = "clinic"  # SS-MIX2
    FHIR_CLINIC = "fhir-clinic"  # FHIR R4 JP Core bundles
    PHARMACY = "pharmacy"  # JAHIS
    CARE_FACILITY = "care-facility"  # care CSV
    SUPPORT_CENTER = "support-center"  # 地域包括支援センター, care CSV (基本チェックリスト)
    MUNICIPALITY = "municipality"  # resident register CSV


CONNECTOR_BY_KIND = {
    InstitutionKind.HOSPITAL: "ssmix2",
    InstitutionKind.CLINIC: "ssmix2",
    InstitutionKind.FHIR_CLINIC: "fhir",
    InstitutionKind.PHARMACY: "jahis",
    InstitutionKind.CARE_FACILITY: "care",
    InstitutionKind.SUPPORT_CENTER: "care",
    InstitutionKind.MUNICIPALITY: "resident-register",
}


@dataclass(frozen=True, slots=True)
class Institution:
    """A source: one organisation with its own files and its own patient numbers."""

    code: str  # source code, the connectors' --source value: "hospital-01", "pharmacy-03"
    kind: InstitutionKind
    name: str
    organization_system: str  # Organization.identifier system
    organization_number: str  # 10-digit 医療機関コード / 介護事業所番号, or the municipality code
    patient_identifier_system: str  # the system under which its patient numbers are carried once ingested
    address: Address
    phone: str
    departments: tuple[Department, ...] = ()
    service_types: tuple[CareServiceType, ...] = ()  # care facilities
    staff: tuple[str, ...] = ()  # doctors' / pharmacists' / carers' names (kanji), cycled through

    @property
    def connector(self) -> str:
        return CONNECTOR_BY_KIND[self.kind]

    @property
    def prefecture_number(self) -> str:
        return self.organization_number[:2]


class InsuranceKind(StrEnum):
    NATIONAL = "national"  # 国民健康保険
    LATE_ELDERLY = "late-elderly"  # 後期高齢者医療
    EMPLOYEE = "employee"  # 被用者保険 (協会けんぽ)


@dataclass(frozen=True, slots=True)
class HealthInsurance:
    kind: InsuranceKind
    insurer_number: str  # 6 digits (国保) or 8 digits
    symbol: str  # 記号; "" when the card has none (後期高齢者医療)
    number: str  # 番号
    branch: str  # 枝番, 2 digits; "" when the card has none
    dependent: bool  # 被扶養者
    valid_from: date

    @property
    def insured_key(self) -> str:
        """被保険者個人識別子 as JP Core writes it: insurer:symbol:number:branch (empty parts kept); a 記号 or
        番号 holding kana or kanji is written all full-width."""
        return f"{self.insurer_number.zfill(8)}:{_card_part(self.symbol)}:{_card_part(self.number)}:{self.branch}"


_FULL_WIDTH = str.maketrans({chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)})


def _card_part(text: str) -> str:
    return text.translate(_FULL_WIDTH) if not text.isascii() else text


@dataclass(frozen=True, slots=True)
class CareInsurance:
    insurer_number: str  # 6 digits, the municipality
    insured_number: str  # 10 digits
    valid_from: date


@dataclass(frozen=True, slots=True)
class Residence:
    since: date
    address: Address
    household_id: str


# --- what happened ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Diagnosis:
    institution: str
    condition: Condition
    onset: date
    recorded_at: datetime
    abated: date | None = None
    suspected: bool = False
    order_number: str = ""  # 15 digits, unique in its institution


class EncounterClass(StrEnum):
    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"
    EMERGENCY = "emergency"


@dataclass(frozen=True, slots=True)
class Encounter:
    institution: str
    encounter_class: EncounterClass
    department: Department
    start: datetime
    end: datetime | None  # discharge for inpatients; None while still admitted at the end date
    reason: Condition | None = None
    died: bool = False  # discharged by death
    doctor: str = ""


@dataclass(frozen=True, slots=True)
class PrescribedDrug:
    rp_number: int  # RP番号, 1-based within the prescription
    drug: Drug
    daily_dose: Decimal
    days: int  # 日分 (内服), 回分 (屯服) or 1 (外用)


@dataclass(frozen=True, slots=True)
class Dispensing:
    pharmacy: str
    dispensed_on: date
    pharmacist: str


@dataclass(frozen=True, slots=True)
class Prescription:
    institution: str
    ordered_at: datetime
    order_number: str  # 15 digits, unique in its institution
    inpatient: bool
    department: Department
    doctor: str
    drugs: tuple[PrescribedDrug, ...]
    dispensing: Dispensing | None  # outpatient prescriptions filled at a pharmacy (院外処方)


@dataclass(frozen=True, slots=True)
class LabResult:
    test: LabTest
    value: Decimal

    @property
    def flag(self) -> str:
        """HL7 abnormal flag: H, L or ""."""
        if self.test.high is not None and self.value > self.test.high:
            return "H"
        if self.test.low is not None and self.value < self.test.low:
            return "L"
        return ""


@dataclass(frozen=True, slots=True)
class LabPanel:
    institution: str
    collected_at: datetime
    reported_at: datetime
    order_number: str
    department: Department
    doctor: str
    results: tuple[LabResult, ...]


@dataclass(frozen=True, slots=True)
class Immunization:
    institution: str
    given_on: date
    vaccine: Vaccine
    lot_number: str


@dataclass(frozen=True, slots=True)
class Allergy:
    category: str  # medication | food
    substance: str  # name as written, e.g. ペニシリン
    recorded_on: date


@dataclass(frozen=True, slots=True)
class CareCertification:
    """要介護認定: the municipality's decision; the care facilities serving the person hold a copy."""

    level: CareLevel
    application: str  # new | renewal | change
    applied_on: date
    decided_on: date
    valid_from: date
    valid_to: date


@dataclass(frozen=True, slots=True)
class CareService:
    facility: str
    service_type: CareServiceType
    provided_on: date
    units: int  # 単位数


@dataclass(frozen=True, slots=True)
class AdlAssessment:
    """Barthel Index: ten items scored 0/5/10/15 in the order of BARTHEL_ITEMS."""

    facility: str
    assessed_on: date
    scores: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.scores)


@dataclass(frozen=True, slots=True)
class Fall:
    recorded_by: str  # the institution whose records show the fall
    occurred_on: date
    place: str  # home | facility | outdoors
    injury: str  # none | bruise | fracture


@dataclass(frozen=True, slots=True)
class ChecklistResponse:
    """基本チェックリスト: answers to items 1-11 and 13-25 (True = はい), item 12 from height and weight."""

    institution: str
    answered_on: date
    answers: tuple[bool, ...]  # 25 entries; index 11 (item 12) is derived from the BMI
    height_cm: Decimal
    weight_kg: Decimal


@dataclass(frozen=True, slots=True)
class VitalSigns:
    facility: str
    measured_at: datetime
    systolic: int
    diastolic: int
    pulse: int
    temperature: Decimal
    weight_kg: Decimal


# --- how a source knows the person -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceView:
    """One source's record of the person: its own id, and demographics as that source wrote them down."""

    source: str
    patient_id: str
    registered_on: date
    name: PersonName
    birth_date: date  # occasionally mistyped
    sex: Sex
    addresses: tuple[tuple[date, Address], ...]  # (learned on, address); stale when the source missed a move
    phone: str  # "" when the source has none
    insurance: HealthInsurance | None  # None when the source has no insurance details

    def address_on(self, day: date) -> Address:
        current = self.addresses[0][1]
        for since, address in self.addresses:
            if since <= day:
                current = address
        return current


@dataclass(slots=True)
class Person:
    person_id: str  # "P0000001": the ground-truth person
    name: PersonName
    sex: Sex
    birth_date: date
    phone: str
    residences: list[Residence]
    health_insurance: list[HealthInsurance]
    care_insurance: CareInsurance | None = None
    death: date | None = None
    twin_of: str | None = None
    household_head: bool = False  # 世帯主 on the person's last day in the register
    allergies: list[Allergy] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    encounters: list[Encounter] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    lab_panels: list[LabPanel] = field(default_factory=list)
    immunizations: list[Immunization] = field(default_factory=list)
    certifications: list[CareCertification] = field(default_factory=list)
    care_services: list[CareService] = field(default_factory=list)
    adl_assessments: list[AdlAssessment] = field(default_factory=list)
    falls: list[Fall] = field(default_factory=list)
    checklists: list[ChecklistResponse] = field(default_factory=list)
    vital_signs: list[VitalSigns] = field(default_factory=list)
    views: dict[str, SourceView] = field(default_factory=dict)

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def residence_on(self, day: date) -> Residence:
        current = self.residences[0]
        for residence in self.residences:
            if residence.since <= day:
                current = residence
        return current

    def insurance_on(self, day: date) -> HealthInsurance:
        current = self.health_insurance[0]
        for insurance in self.health_insurance:
            if insurance.valid_from <= day:
                current = insurance
        return current

    def alive_on(self, day: date) -> bool:
        return self.death is None or self.death > day


@dataclass(frozen=True, slots=True)
class Household:
    household_id: str
    members: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class Region:
    """What is fixed before any person is simulated: the place, its institutions and the period."""

    seed: int
    people: int
    start: date  # first day of the simulated period
    as_of: date  # last day; the indicators are as of this date
    prefecture: str
    prefecture_number: str
    city: str
    municipality_code: str  # 6-digit 全国地方公共団体コード
    ltc_insurer_number: str  # the municipality as 介護保険者
    nhi_insurer_number: str  # the municipality as 国民健康保険者
    late_elderly_insurer_number: str  # the prefecture's 後期高齢者医療広域連合
    districts: tuple[str, ...]
    institutions: tuple[Institution, ...]

    def institution(self, code: str) -> Institution:
        for institution in self.institutions:
            if institution.code == code:
                return institution
        raise KeyError(code)

    def of_kind(self, *kinds: InstitutionKind) -> tuple[Institution, ...]:
        return tuple(institution for institution in self.institutions if institution.kind in kinds)
