"""Differential test: the engine's answers equal the oracle's, over generated regions and queries.

The oracle (tests/federation/search/oracle.py) evaluates each query in plain Python over the
stored JSON, with fhirpathpy for expressions and none of the engine's code. Hypothesis draws a
small Japanese region and queries on it; any difference is a bug in one of the two.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.contracts import AccessContext
from federation.models import Resource
from federation.storage import services
from tests.conftest import FhirClient, system_token
from tests.federation.search import oracle
from tests.federation.search.strategies import RESOURCE_TYPES, query, region

SYSTEM = AccessContext.system(reason="differential test")
TABLES = (
    "federation_tokenindex, federation_stringindex, federation_dateindex, federation_numberindex, "
    "federation_quantityindex, federation_referenceindex, federation_uriindex, "
    "federation_resourceversion, federation_resource, federation_identitydecision, federation_matchreview, "
    "federation_blockingkey, federation_personrecord, federation_person, federation_linkqueue"
)


def load(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace the store's contents with `resources` and return them as stored (server meta set)."""
    with connection.cursor() as cursor:
        # TRUNCATE bypasses the row trigger that keeps versions immutable: only tests start over.
        # Django's foreign keys are deferred; they must be checked before TRUNCATE may run.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {TABLES}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    for resource in resources:
        services.resource_update(
            access=SYSTEM, resource_type=resource["resourceType"], logical_id=resource["id"], resource=resource
        )
    return [row.content for row in Resource.objects.all() if row.content is not None]


def engine_ids(fhir: FhirClient, resource_type: str, query_string: str) -> set[str] | int:
    response = fhir.get(f"/fhir/{resource_type}?{query_string}&_count=1000", headers={"Prefer": "handling=strict"})
    if response.status_code != 200:
        return int(response.status_code)
    return {entry["resource"]["id"] for entry in response.json().get("entry", []) if entry["search"]["mode"] == "match"}


@pytest.mark.django_db
@settings(
    max_examples=int(os.environ.get("TSUNAGI_DIFFERENTIAL_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(resources=region(), data=st.data())
def test_engine_agrees_with_the_oracle(resources, data):
    with transaction.atomic():  # each example in its own savepoint, whatever it leaves behind
        compare(resources, data)


def compare(resources, data):
    fhir = FhirClient(system_token())
    stored = load(resources)
    for _ in range(8):
        resource_type = data.draw(st.sampled_from(RESOURCE_TYPES), label="type")
        query_string = data.draw(query(resource_type), label="query")
        try:
            expected: set[str] | int = oracle.evaluate(stored, resource_type, query_string, now=timezone.now())
        except oracle.InvalidQueryError:
            expected = 400
        assert engine_ids(fhir, resource_type, query_string) == expected, f"{resource_type}?{query_string}"
