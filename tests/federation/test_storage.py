"""The store itself: immutable versions, server meta, content hashing, the one write path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, transaction

from consent.contracts import AccessContext
from core import fhir_json
from core.outcome import FhirError
from federation.contracts import StoredVersion
from federation.models import Resource, ResourceVersion
from federation.storage import services
from federation.storage.rows import Serialised
from tests.conftest import patient

SYSTEM = AccessContext.system(reason="test")


def content_of(version: StoredVersion) -> dict[str, Any]:
    assert version.content is not None
    return version.content


def test_versions_cannot_be_changed_or_removed(db):
    result = services.resource_create(access=SYSTEM, resource=patient())
    version = ResourceVersion.objects.get(logical_id=result.version.logical_id)

    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        ResourceVersion.objects.filter(pk=version.pk).update(content={"resourceType": "Patient"})
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        ResourceVersion.objects.filter(pk=version.pk).delete()


def test_server_meta_replaces_client_meta_but_keeps_tags_and_profiles(db):
    meta = {
        "versionId": "42",
        "lastUpdated": "1999-01-01T00:00:00Z",
        "tag": [{"system": "urn:x", "code": "demo"}],
        "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"],
    }

    result = services.resource_create(access=SYSTEM, resource=patient(meta=meta))

    stored = content_of(result.version)
    assert stored["meta"]["versionId"] == "1"
    assert stored["meta"]["lastUpdated"] != "1999-01-01T00:00:00Z"
    assert stored["meta"]["tag"] == meta["tag"]
    assert stored["meta"]["profile"] == meta["profile"]


def test_changing_only_tags_is_a_change(db):
    created = services.resource_create(access=SYSTEM, resource=patient()).version
    tagged = {**content_of(created), "meta": {"tag": [{"system": "urn:x", "code": "reviewed"}]}}

    result = services.resource_update(
        access=SYSTEM, resource_type="Patient", logical_id=created.logical_id, resource=tagged
    )

    assert result.changed
    assert result.version.version_id == 2


def test_current_row_and_latest_version_agree(db):
    created = services.resource_create(access=SYSTEM, resource=patient()).version
    services.resource_update(
        access=SYSTEM,
        resource_type="Patient",
        logical_id=created.logical_id,
        resource={**content_of(created), "gender": "male"},
    )

    row = Resource.objects.get(logical_id=created.logical_id)
    latest = ResourceVersion.objects.filter(resource=row).order_by("-version_id").first()
    assert latest is not None
    assert (row.version_id, row.content) == (latest.version_id, latest.content)


def test_service_refuses_invalid_content_before_writing(db):
    with pytest.raises(FhirError) as raised:
        services.resource_create(access=SYSTEM, resource=patient(gender=12))

    assert raised.value.status == 400
    assert Resource.objects.count() == 0


def test_extensions_on_extension_values_are_accepted(db):
    """Valid FHIR that fhir.resources' Extension model lacks (`_valueString` with a translation)."""
    translated = {
        "url": "http://example.org/label",
        "valueString": "Hypertension",
        "_valueString": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/translation",
                    "extension": [{"url": "lang", "valueCode": "ja"}, {"url": "content", "valueString": "高血圧"}],
                }
            ]
        },
    }

    result = services.resource_create(access=SYSTEM, resource=patient(extension=[translated]))

    assert content_of(result.version)["extension"][0]["_valueString"] == translated["_valueString"]


def test_broken_extensions_on_extension_values_are_still_refused(db):
    broken = {"url": "http://example.org/x", "valueString": "a", "_valueString": {"extension": [{"valueInteger": "x"}]}}

    with pytest.raises(FhirError):
        services.resource_create(access=SYSTEM, resource=patient(extension=[broken]))


def test_one_serialisation_gives_the_stored_text_and_the_hash_stored_before():
    """The text stored and the change hash come from one serialisation; the hash stays what it was (the
    canonical text without the server's meta fields), so a resource stored before is still unchanged."""
    content = {
        "resourceType": "Observation",
        "id": "o1",
        "meta": {"versionId": "3", "lastUpdated": "2026-01-01T00:00:00Z", "source": "urn:s", "tag": [{"code": "t"}]},
        "status": "final",
        "code": {"text": "体重"},
        "valueQuantity": {"value": Decimal("60.50"), "unit": "kg"},
    }
    serialised = Serialised(content)
    comparable = {**content, "meta": {"source": "urn:s", "tag": [{"code": "t"}]}}
    assert serialised.content_hash == fhir_json.canonical_sha256(comparable)
    assert fhir_json.loads(serialised.text) == content
    assert serialised.text == fhir_json.canonical(content)
    bare = {key: value for key, value in content.items() if key != "meta"}
    assert Serialised({**bare, "meta": {"versionId": "1"}}).content_hash == fhir_json.canonical_sha256(bare)
