"""Code systems and HL7 tables: the coding-system names SS-MIX2 writes in CWE-3 and their FHIR URIs (JP Core).

A code from a table without a published URI keeps its code under the source's local system
``https://tsunagi.example.jp/fhir/CodeSystem/local/<source code>/<table>``, so nothing the message says is lost.
"""

from __future__ import annotations

import re

from connectors.jp import HL7_CODE_SYSTEM as THO
from connectors.jp import LOCAL_CODE_SYSTEM as LOCAL

RP_NUMBER = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/Medication-RPGroupNumber"
ORDER_IN_RP = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/MedicationAdministrationIndex"

JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
SPECIMEN_MATERIAL = "http://jpfhir.jp/fhir/core/CodeSystem/JP_ObservationSampleMaterialCode_CS"
HOT9 = "http://medis.or.jp/CodeSystem/master-HOT9"
MEDIS_KEY = "http://medis.or.jp/CodeSystem/master-disease-keyNumber"
MEDIS_EXCHANGE = "http://medis.or.jp/CodeSystem/master-disease-exCode"
MEDIS_MODIFIER_KEY = "http://medis.or.jp/CodeSystem/master-disease-modKeyNumber"
MEDIS_MODIFIER_EXCHANGE = "http://medis.or.jp/CodeSystem/master-disease-modExCode"
ICD10 = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full"
OUTCOME_HL70241 = "http://jpfhir.jp/fhir/core/CodeSystem/HL70241"
OUTCOME_JHSD0006 = "http://jpfhir.jp/fhir/core/CodeSystem/JHSD0006"
MERIT9_UNIT = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationUnitMERIT9Code"
MERIT9_CATEGORY = "http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicationCategoryMERIT9_CS"
UCUM = "http://unitsofmeasure.org"
JP_OBSERVATION_CATEGORY = "http://jpfhir.jp/fhir/core/CodeSystem/JP_SimpleObservationCategory_CS"

# CWE-3 coding-system names with one meaning wherever they appear.
SYSTEMS = {
    "HOT9": HOT9,
    "HOT7": "http://medis.or.jp/CodeSystem/master-HOT7",
    "HOT13": "http://medis.or.jp/CodeSystem/master-HOT13",
    "HOT": "http://medis.or.jp/CodeSystem/master-HOT13",
    "YJ": "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code",
    "I10": ICD10,
    "JAMISDP01": "http://jami.jp/CodeSystem/MedicationUsage",
    "HL70162": "http://jpfhir.jp/fhir/core/CodeSystem/route-codes",
    "HL70069": "http://jami.jp/SS-MIX2/CodeSystem/ClinicalDepartment",
    "HL70241": OUTCOME_HL70241,
    "JHSD0006": OUTCOME_JHSD0006,
    "ISO+": UCUM,
    "UCUM": UCUM,
    "ANS+": UCUM,
}
# MERIT-9 (MR9P) is several tables; which one a field holds decides the URI.
MERIT9_SYSTEMS = {"unit": MERIT9_UNIT, "category": MERIT9_CATEGORY}
_HL7_TABLE = re.compile(r"HL7(\d{4})")
_JLAC10_CODE = re.compile(r"[0-9A-Z]{17}")
_MEDIS_KEY = re.compile(r"\d{8}")
_MEDIS_EXCHANGE = re.compile(r"[0-9A-Z]{4}")


def system_for(name: str, code: str, source: str, field: str, merit9: str = "") -> str:
    """The FHIR URI of a code written under CWE-3 `name` in `field` (its table when the name is empty)."""
    if name == "JC10":
        if _JLAC10_CODE.fullmatch(code):
            return JLAC10
        if field == "SPM-4":
            return SPECIMEN_MATERIAL
    elif name == "MDCDX2":
        if _MEDIS_KEY.fullmatch(code):
            return MEDIS_KEY
        if _MEDIS_EXCHANGE.fullmatch(code):
            return MEDIS_EXCHANGE
    elif name == "MR9P" and merit9:
        return MERIT9_SYSTEMS[merit9]
    elif name in SYSTEMS:
        return SYSTEMS[name]
    elif table := _HL7_TABLE.fullmatch(name):
        return f"{THO}v2-{table.group(1)}"
    return f"{LOCAL}{source}/{name or field}"


def icd10(code: str) -> str:
    """SS-MIX2 writes ICD-10 without its dot (``E119``); FHIR's ICD-10 code has it (``E11.9``)."""
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 and "." not in code else code


# HL7 table 0001 (administrative sex) -> FHIR administrative-gender.
GENDERS = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
# Table 0200 (name type) -> HumanName.use, for names without a kanji/kana representation.
NAME_USES = {"L": "official", "M": "maiden", "N": "nickname", "S": "anonymous", "T": "temp", "D": "usual"}
# Table 4000 (name representation) -> iso21090-EN-representation: I kanji, P kana, A alphabetic.
REPRESENTATIONS = {"I": "IDE", "P": "SYL", "A": "ABC"}
# Table 0190 (address type) -> Address.use.
ADDRESS_USES = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old"}
# Table 0201 (telecom use) -> ContactPoint.use; table 0202 (equipment) -> ContactPoint.system.
TELECOM_USES = {"PRN": "home", "WPN": "work", "ORN": "home", "VHN": "home", "ASN": "temp"}
TELECOM_SYSTEMS = {"PH": "phone", "CP": "phone", "FX": "fax", "BP": "pager", "INTERNET": "email", "X.400": "email"}
# Table 0004 (patient class) -> v3-ActCode encounter class.
ENCOUNTER_CLASSES = {
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "E": ("EMER", "emergency"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("IMP", "inpatient encounter"),
}
EMERGENCY = ("EMER", "emergency")
# Table 0127 (allergen type) -> AllergyIntolerance.category.
ALLERGY_CATEGORIES = {
    "DA": "medication",
    "MC": "medication",
    "FA": "food",
    "EA": "environment",
    "AA": "environment",
    "PA": "environment",
    "LA": "environment",
    "MA": "",  # miscellaneous allergy: no FHIR category
}
# Table 0128 (allergy severity) -> reaction.severity, or criticality when no reaction is written.
SEVERITIES = {"SV": "severe", "MO": "moderate", "MI": "mild"}
CRITICALITIES = {"SV": "high", "MO": "low", "MI": "low", "U": "unable-to-assess"}
# Table 0063 (relationship) -> subscriber-relationship.
RELATIONSHIPS = {
    "SEL": "self",
    "SPO": "spouse",
    "DOM": "common",
    "CHD": "child",
    "FCH": "child",
    "SCH": "child",
    "PAR": "parent",
    "FTH": "parent",
    "MTH": "parent",
}
# 転帰: JP Core's HL7 table 0241 and JHSD0006 -> condition-clinical.
OUTCOME_STATUSES = {
    "F": "resolved",  # 完全に回復した
    "R": "resolved",  # 回復 (治癒)
    "S": "resolved",  # 後遺症
    "D": "inactive",  # 死亡
    "N": "active",  # 回復せず, 変わらない
    "W": "active",  # 悪化
    "C": "active",  # 継続 (JHSD0006)
    "I": "inactive",  # 中止 (JHSD0006)
    "M": "remission",  # 寛解 (JHSD0006)
}
OUTCOMES = frozenset({*OUTCOME_STATUSES, "U", "O"})  # U 未知, O その他: no clinical status of their own
OUTCOME_JHSD0006_CODES = frozenset({"C", "I", "M", "O"})
ABATED = frozenset({"resolved", "inactive", "remission"})
# PRB-13 疑い: JHSD0005 ``1`` (疑いあり) or HL7 table 0389 -> condition-ver-status.
CONFIRMATIONS = {"1": "provisional", "C": "confirmed", "P": "provisional", "D": "differential", "R": "refuted"}
# PRB-25 (table 0177, confidentiality) -> v3-Confidentiality.
CONFIDENTIALITY = {"V": ("V", "very restricted"), "R": ("R", "restricted"), "U": ("N", "normal")}
# Table 0085 (observation result status) -> Observation.status; table 0123 (OBR-25) -> DiagnosticReport.status.
OBSERVATION_STATUSES = {
    "F": "final",
    "C": "corrected",
    "A": "amended",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
    "N": "cancelled",
    "D": "entered-in-error",
    "W": "entered-in-error",
    "U": "final",
}
REPORT_STATUSES = {
    "F": "final",
    "C": "corrected",
    "A": "partial",
    "P": "preliminary",
    "R": "partial",
    "S": "partial",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
    "Y": "registered",
    "Z": "registered",
}
# Table 0078 (abnormal flags) with the same code in v3-ObservationInterpretation.
INTERPRETATIONS = {
    "H": "High",
    "L": "Low",
    "HH": "Critical high",
    "LL": "Critical low",
    "A": "Abnormal",
    "AA": "Critical abnormal",
    "N": "Normal",
    "<": "Off scale low",
    ">": "Off scale high",
    "S": "Susceptible",
    "R": "Resistant",
    "I": "Intermediate",
    "POS": "Positive",
    "NEG": "Negative",
}
# ORC-5 order status (table 0038), else ORC-1 order control (table 0119) -> MedicationRequest.status.
ORDER_STATUSES = {
    "CM": "completed",
    "CA": "cancelled",
    "DC": "stopped",
    "HD": "on-hold",
    "IP": "active",
    "SC": "active",
}
ORDER_CONTROLS = {
    "NW": "active",
    "SN": "active",
    "XO": "active",
    "RP": "active",
    "SC": "active",
    "CA": "cancelled",
    "OC": "cancelled",
    "CR": "cancelled",
    "DC": "stopped",
    "OD": "stopped",
    "HD": "on-hold",
}
# RXA-20 completion status (table 0322) -> MedicationAdministration.status.
ADMINISTRATION_STATUSES = {"CP": "completed", "PA": "stopped", "RE": "not-done", "NA": "not-done"}
# RXE-21 処方区分 (MERIT-9) -> medicationrequest-category; ORC-29 (table 0482) -> medication-admin-category.
PRESCRIPTION_CATEGORIES = {"OHP": "outpatient", "OHI": "outpatient", "IHP": "inpatient", "IHI": "inpatient"}
ORDER_TYPES = {"I": "inpatient", "O": "outpatient"}
# Duration units written in TQ1-6 (CQ) -> UCUM.
DURATION_UNITS = {"d": ("d", "日"), "wk": ("wk", "週"), "mo": ("mo", "月"), "h": ("h", "時間"), "min": ("min", "分")}
# ASCII units that are not UCUM codes, and the UCUM code with the same meaning.
UCUM_SYNONYMS = {"bpm": "/min", "msec": "ms", "sec": "s", "degree": "deg", "hr": "h", "cc": "mL"}
