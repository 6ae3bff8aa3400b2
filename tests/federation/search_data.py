"""Small JP-flavoured resources for the search tests."""

from __future__ import annotations

from typing import Any

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.11234567890"
JLAC10 = "urn:oid:1.2.392.200119.4.504"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def jp_patient(logical_id: str, kanji: tuple[str, str], kana: tuple[str, str], **fields: Any) -> dict[str, Any]:
    """A Patient with a kanji (IDE) and a kana (SYL) name, as JP Core shapes them."""
    return {
        "resourceType": "Patient",
        "id": logical_id,
        "identifier": [{"system": HOSPITAL, "value": logical_id.upper()}],
        "name": [
            {
                "extension": [{"url": EN_REPRESENTATION, "valueCode": "IDE"}],
                "use": "official",
                "text": f"{kanji[0]} {kanji[1]}",
                "family": kanji[0],
                "given": [kanji[1]],
            },
            {
                "extension": [{"url": EN_REPRESENTATION, "valueCode": "SYL"}],
                "use": "usual",
                "text": f"{kana[0]} {kana[1]}",
                "family": kana[0],
                "given": [kana[1]],
            },
        ],
        **fields,
    }


def lab(
    logical_id: str,
    patient: str,
    code: str,
    value: float,
    unit: str,
    when: str,
    *,
    loinc: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    codings = [{"system": JLAC10, "code": code}]
    if loinc:
        codings.append({"system": LOINC, "code": loinc})
    return {
        "resourceType": "Observation",
        "id": logical_id,
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}
        ],
        "code": {"coding": codings, "text": fields.pop("text", "検査")},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        **fields,
    }
