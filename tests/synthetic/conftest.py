"""A small region and one richly documented person, for the writers' tests."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from synthetic.catalog.clinical import (
    CARE_LEVELS,
    CARE_SERVICE_TYPES,
    CONDITIONS,
    DEPARTMENTS,
    DRUGS,
    LAB_TESTS,
    VACCINES,
)
from synthetic.model import (
    AdlAssessment,
    Allergy,
    CareCertification,
    CareInsurance,
    CareService,
    ChecklistResponse,
    Diagnosis,
    Dispensing,
    Encounter,
    EncounterClass,
    Fall,
    HealthInsurance,
    Immunization,
    Institution,
    InstitutionKind,
    InsuranceKind,
    LabPanel,
    LabResult,
    Person,
    PersonName,
    PrescribedDrug,
    Prescription,
    Region,
    Residence,
    Sex,
    SourceView,
    VitalSigns,
)
from synthetic.world import district_address, region_build


@pytest.fixture(scope="session")
def region() -> Region:
    return region_build(seed=7, people=300, as_of=date(2026, 3, 31), years=1)


@pytest.fixture(scope="session")
def institution_of_kind(region: Region):
    def first(kind: InstitutionKind) -> Institution:
        return region.of_kind(kind)[0]

    return first


@pytest.fixture
def person(region, institution_of_kind) -> Person:
    import random

    rng = random.Random(1)
    home = district_address(rng, ("本町一丁目", "428-0011"), apartment=False)
    new_home = district_address(rng, ("緑が丘", "428-0031"), apartment=True)
    name = PersonName("髙橋", "和子", "タカハシ", "カズコ")
    everyday = PersonName("高橋", "和子", "タカハシ", "カズコ")
    late_elderly = HealthInsurance(InsuranceKind.LATE_ELDERLY, "39229990", "", "12345678", "", False, date(2016, 5, 3))
    hospital = institution_of_kind(InstitutionKind.HOSPITAL)
    clinic = institution_of_kind(InstitutionKind.CLINIC)
    fhir_clinic = institution_of_kind(InstitutionKind.FHIR_CLINIC)
    pharmacy = institution_of_kind(InstitutionKind.PHARMACY)
    facility = institution_of_kind(InstitutionKind.CARE_FACILITY)
    center = institution_of_kind(InstitutionKind.SUPPORT_CENTER)
    municipality = institution_of_kind(InstitutionKind.MUNICIPALITY)
    internal = DEPARTMENTS["internal"]
    orthopedics = DEPARTMENTS["orthopedics"]

    def view(institution: Institution, patient_id: str, *, moved: bool, insured: bool = True) -> SourceView:
        addresses = ((date(2019, 1, 10), home),) + (((date(2025, 9, 20), new_home),) if moved else ())
        return SourceView(
            source=institution.code,
            patient_id=patient_id,
            registered_on=date(2019, 1, 10),
            name=name if institution.kind is InstitutionKind.MUNICIPALITY else everyday,
            birth_date=date(1941, 5, 3),
            sex=Sex.FEMALE,
            addresses=addresses,
            phone="0548-23-4567",
            insurance=late_elderly if insured else None,
        )

    outpatient_drugs = (
        PrescribedDrug(1, DRUGS["amlodipine"], Decimal(1), 28),
        PrescribedDrug(2, DRUGS["donepezil"], Decimal(1), 28),
        PrescribedDrug(3, DRUGS["loxoprofen"], Decimal(1), 10),
        PrescribedDrug(4, DRUGS["loxoprofen_tape"], Decimal(28), 1),
    )
    hba1c, cre = LAB_TESTS["hba1c"], LAB_TESTS["cre"]
    return Person(
        person_id="P0000042",
        household_head=True,
        name=name,
        sex=Sex.FEMALE,
        birth_date=date(1941, 5, 3),
        phone="0548-23-4567",
        residences=[
            Residence(date(1970, 4, 1), home, "H000021"),
            Residence(date(2025, 9, 14), new_home, "H000021"),
        ],
        health_insurance=[late_elderly],
        care_insurance=CareInsurance("229991", "0000123456", date(2006, 5, 3)),
        allergies=[Allergy("medication", "ペニシリン", date(2019, 1, 10))],
        diagnoses=[
            Diagnosis(
                clinic.code,
                CONDITIONS["hypertension"],
                date(2012, 6, 1),
                datetime(2019, 1, 10, 10, 5),
                None,
                False,
                "000000042000001",
            ),
            Diagnosis(
                clinic.code,
                CONDITIONS["dementia_vascular"],
                date(2024, 11, 2),
                datetime(2024, 11, 2, 11, 0),
                None,
                True,
                "000000042000002",
            ),
            Diagnosis(
                hospital.code,
                CONDITIONS["hip_fracture"],
                date(2025, 10, 3),
                datetime(2025, 10, 3, 15, 30),
                date(2026, 1, 20),
                False,
                "000000042000003",
            ),
            Diagnosis(
                fhir_clinic.code,
                CONDITIONS["gerd"],
                date(2023, 3, 1),
                datetime(2023, 3, 1, 9, 30),
                None,
                False,
                "000000042000004",
            ),
        ],
        encounters=[
            Encounter(
                clinic.code,
                EncounterClass.OUTPATIENT,
                internal,
                datetime(2025, 6, 2, 9, 40),
                datetime(2025, 6, 2, 10, 0),
                CONDITIONS["hypertension"],
                False,
                clinic.staff[0],
            ),
            Encounter(
                hospital.code,
                EncounterClass.EMERGENCY,
                DEPARTMENTS["emergency"],
                datetime(2025, 10, 3, 14, 5),
                datetime(2025, 10, 3, 15, 40),
                CONDITIONS["hip_fracture"],
                False,
                hospital.staff[1],
            ),
            Encounter(
                hospital.code,
                EncounterClass.INPATIENT,
                orthopedics,
                datetime(2025, 10, 3, 15, 40),
                datetime(2025, 11, 7, 10, 0),
                CONDITIONS["hip_fracture"],
                False,
                hospital.staff[2],
            ),
            Encounter(
                fhir_clinic.code,
                EncounterClass.OUTPATIENT,
                internal,
                datetime(2026, 2, 16, 10, 15),
                datetime(2026, 2, 16, 10, 30),
                CONDITIONS["gerd"],
                False,
                fhir_clinic.staff[0],
            ),
        ],
        prescriptions=[
            Prescription(
                clinic.code,
                datetime(2025, 6, 2, 9, 55),
                "000000042000101",
                False,
                internal,
                clinic.staff[0],
                outpatient_drugs,
                Dispensing(pharmacy.code, date(2025, 6, 2), pharmacy.staff[0]),
            ),
            Prescription(
                hospital.code,
                datetime(2025, 10, 4, 8, 30),
                "000000042000102",
                True,
                orthopedics,
                hospital.staff[2],
                (PrescribedDrug(1, DRUGS["acetaminophen"], Decimal(2), 5),),
                None,
            ),
            Prescription(
                fhir_clinic.code,
                datetime(2026, 2, 16, 10, 25),
                "000000042000103",
                False,
                internal,
                fhir_clinic.staff[0],
                (PrescribedDrug(1, DRUGS["lansoprazole"], Decimal(1), 56),),
                Dispensing(pharmacy.code, date(2026, 2, 17), pharmacy.staff[1]),
            ),
        ],
        lab_panels=[
            LabPanel(
                clinic.code,
                datetime(2025, 6, 2, 9, 45),
                datetime(2025, 6, 3, 14, 0),
                "000000042000201",
                internal,
                clinic.staff[0],
                (LabResult(hba1c, Decimal("6.4")), LabResult(cre, Decimal("0.62"))),
            ),
            LabPanel(
                fhir_clinic.code,
                datetime(2026, 2, 16, 10, 20),
                datetime(2026, 2, 17, 9, 0),
                "000000042000202",
                internal,
                fhir_clinic.staff[0],
                (LabResult(cre, Decimal("1.21")),),
            ),
        ],
        immunizations=[Immunization(fhir_clinic.code, date(2025, 10, 28), VACCINES["influenza"], "FLU25-118")],
        certifications=[
            CareCertification(
                CARE_LEVELS["13"], "new", date(2024, 12, 1), date(2025, 1, 10), date(2024, 12, 1), date(2025, 11, 30)
            ),
            CareCertification(
                CARE_LEVELS["22"],
                "change",
                date(2025, 11, 10),
                date(2025, 12, 15),
                date(2025, 11, 10),
                date(2026, 11, 30),
            ),
        ],
        care_services=[
            CareService(facility.code, CARE_SERVICE_TYPES["15"], date(2026, 1, 8), 789),
            CareService(facility.code, CARE_SERVICE_TYPES["43"], date(2026, 1, 31), 1076),
        ],
        adl_assessments=[AdlAssessment(facility.code, date(2026, 1, 8), (10, 10, 5, 5, 0, 10, 5, 5, 10, 10))],
        falls=[
            Fall(facility.code, date(2026, 2, 3), "facility", "bruise"),
            Fall(hospital.code, date(2025, 10, 3), "home", "fracture"),
        ],
        checklists=[
            ChecklistResponse(
                center.code,
                date(2025, 5, 20),
                (
                    False,
                    True,
                    False,
                    True,
                    False,
                    True,
                    True,
                    False,
                    True,
                    True,
                    False,
                    False,
                    True,
                    False,
                    True,
                    False,
                    True,
                    True,
                    False,
                    True,
                    False,
                    False,
                    True,
                    False,
                    False,
                ),
                Decimal("148.0"),
                Decimal("39.5"),
            ),
        ],
        vital_signs=[
            VitalSigns(facility.code, datetime(2026, 1, 8, 9, 30), 138, 82, 72, Decimal("36.4"), Decimal("39.8"))
        ],
        views={
            hospital.code: view(hospital, "0000012345", moved=True),
            clinic.code: view(clinic, "0000000731", moved=False),
            fhir_clinic.code: view(fhir_clinic, "F0000731", moved=True),
            pharmacy.code: view(pharmacy, "00004211", moved=False, insured=False),
            facility.code: view(facility, "C00042", moved=True),
            center.code: view(center, "S00042", moved=False, insured=False),
            municipality.code: view(municipality, "000000004217", moved=True),
        },
    )
