"""Fictional people as sources write them, stored the way connectors store them (conditional PUT by number),
and linked."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from consent.contracts import AccessContext
from federation.facade import identity_link_all, records_ingest
from federation.models import Person, Resource

ACCESS = AccessContext.system(reason="test")
HOSPITAL = "urn:oid:1.2.392.100495.20.3.51.11234567890"
PHARMACY = "https://tsunagi.example.jp/fhir/IdSystem/patient/pharmacy-1"
REGISTER = "https://tsunagi.example.jp/fhir/IdSystem/resident/229990"
MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"


def patient(
    system: str,
    number: str,
    *,
    kanji: str = "綱木 花子",
    kana: str = "ツナギ ハナコ",
    birth: str = "1942-05-17",
    gender: str = "female",
    postal: str | None = "428-0011",
    address: str | None = "静岡県綱木市本町一丁目1番1号",
    phone: str | None = "0547-11-2233",
    member_id: str | None = None,
    link: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    identifiers = [{"system": system, "value": number}]
    if member_id:
        identifiers.append({"system": MEMBER_ID, "value": member_id})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": identifiers,
        "name": [_name("IDE", kanji), _name("SYL", kana)],
        "gender": gender,
        "birthDate": birth,
    }
    if postal or address:
        written = {"text": address, "postalCode": postal}
        resource["address"] = [{key: value for key, value in written.items() if value}]
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if link:
        resource["link"] = link
    return resource


def _name(representation: str, text: str) -> dict[str, Any]:
    family, given = text.split(" ")
    return {
        "extension": [{"url": REPRESENTATION, "valueCode": representation}],
        "use": "usual",
        "text": text,
        "family": family,
        "given": [given],
    }


def store(*resources: dict[str, Any]) -> None:
    """Store each resource as a connector would: conditional PUT on its first identifier."""
    records = []
    for resource in resources:
        identifier = resource["identifier"][0]
        url = f"{resource['resourceType']}?identifier={identifier['system']}|{identifier['value']}"
        records.append([{"resource": resource, "request": {"method": "PUT", "url": url}}])
    results = records_ingest(access=ACCESS, records=records, source_uri="https://tsunagi.example.jp/test")
    assert all(not isinstance(result, Exception) for result in results), results


def store_and_link(*resources: dict[str, Any]) -> None:
    store(*resources)
    identity_link_all()


def source_patient(system: str, number: str) -> Resource:
    return Resource.objects.get(
        resource_type="Patient", content__identifier__contains=[{"system": system, "value": number}]
    )


def source_patients() -> QuerySet[Resource]:
    """Stored Patients that came from sources: not the golden records linking writes."""
    return Resource.objects.filter(resource_type="Patient").exclude(logical_id__in=Person.objects.values("golden"))
