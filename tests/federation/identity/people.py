"""Fictional JP Core Patients for the matching tests: one person as a careful source writes them, and the
noise other sources add (the kinds synthetic/views.py draws)."""

from __future__ import annotations

from typing import Any

from federation.identity.features import PersonFeatures, patient_features

REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
LTC = "https://tsunagi.example.jp/fhir/IdSystem/ltc-insured-number/229997"
RESIDENT = "https://tsunagi.example.jp/fhir/IdSystem/resident/229990"

HOME = "静岡県綱木市駅前一丁目15番24号"
_FULL_WIDTH = str.maketrans({chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)})
NEW_HOME = "静岡県綱木市港町3番7号"


def patient(
    *,
    kanji: tuple[str, str] | None = ("髙橋", "正雄"),
    kana: tuple[str, str] | None = ("タカハシ", "マサオ"),
    birth: str | None = "1958-03-27",
    gender: str | None = "male",
    address: str | None = HOME,
    postal: str | None = "428-0021",
    phone: str | None = "0548-26-5284",
    member_id: str | None = "00229989:つ２６:0000075:00",
    number: str = "1807957329",
) -> dict[str, Any]:
    """A Patient as the connectors store it; None leaves an element out."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT, "value": number}],
        "name": [],
    }
    if member_id:
        resource["identifier"].append({"system": MEMBER_ID, "value": member_id})
    for code, parts in (("IDE", kanji), ("SYL", kana)):
        if parts:
            resource["name"].append(
                {
                    "extension": [{"url": REPRESENTATION, "valueCode": code}],
                    "use": "usual",
                    "text": " ".join(parts),
                    "family": parts[0],
                    "given": [parts[1]],
                }
            )
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "home"}]
    if gender:
        resource["gender"] = gender
    if birth:
        resource["birthDate"] = birth
    if address or postal:
        resource["address"] = [{"use": "home", **({"text": address} if address else {}), "postalCode": postal}]
    return resource


def full_width(text: str) -> str:
    """The text with its ASCII digits, letters and signs written full-width, as some desks type them."""
    return text.translate(_FULL_WIDTH)


def person(**changes: Any) -> PersonFeatures:
    """The features of `patient(**changes)`."""
    return patient_features(patient(**changes))
