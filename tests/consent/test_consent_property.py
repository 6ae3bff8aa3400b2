"""Property: for random Consents and random requests over a small data set, no read path ever returns a resource
outside the permitted set, which is computed independently, in Python, by consent.policy over the resources' JSON.

Requests go to the selectors with an AccessContext (the matrix test covers the same paths through the API).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.contracts import AccessContext, AccessKind, Purpose
from consent.policy import BasePolicy, ConsentTerms, Item, Request, actor_keys, consent_terms, in_force, permitted
from core.outcome import FhirError
from federation.search.query import parse_query, query_pairs
from federation.search.searching import resource_search
from federation.search.selectors import resource_history, resource_read
from federation.storage.services import resource_delete, resource_update
from tests.consent.consents import PSY, actor, app_actor, consent, instants, municipality_actor, purpose

SYSTEM = AccessContext.system("test")
HIV = {"system": PSY["system"], "code": "HIV"}
PATIENTS = ("q1", "q2", "q3")
TYPES = ("Patient", "Observation", "Condition", "Organization")
ACTORS = (
    actor("Organization/a"),
    actor("Organization/b"),
    actor("Practitioner/d"),
    municipality_actor("229990"),
    app_actor("app-1"),
)
CLASSES = ("Observation", "Condition", "Patient")
YEARS = ("2021", "2023", "2024-06", "2025", "2031")


def _dataset() -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": "a", "name": "A"},
        {"resourceType": "Organization", "id": "b", "name": "B"},
    ]
    for index, name in enumerate(PATIENTS):
        other = PATIENTS[(index + 1) % len(PATIENTS)]
        resources += [
            {"resourceType": "Patient", "id": name},
            _observation(f"{name}-old", name, "2023-05-01", []),
            _observation(f"{name}-hiv", name, "2025-02-01", [HIV], performer=other),
            {
                "resourceType": "Condition",
                "id": f"{name}-psy",
                "meta": {"security": [PSY]},
                "subject": {"reference": f"Patient/{name}"},
            },
            {"resourceType": "Condition", "id": f"{name}-plain", "subject": {"reference": f"Patient/{name}"}},
        ]
    return resources


def _observation(
    logical_id: str, subject: str, when: str, labels: list[dict[str, str]], performer: str | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": logical_id,
        "status": "final",
        "code": {"text": "test"},
        "subject": {"reference": f"Patient/{subject}"},
        "effectiveDateTime": when,
    }
    if labels:
        resource["meta"] = {"security": labels}
    if performer:
        resource["performer"] = [{"reference": f"Patient/{performer}"}]  # in two persons' compartments
    return resource


def _owners(resource: dict[str, Any]) -> set[str]:
    if resource["resourceType"] == "Patient":
        return {resource["id"]}
    references = [resource.get("subject", {}), *resource.get("performer", [])]
    return {
        ref["reference"].removeprefix("Patient/")
        for ref in references
        if ref.get("reference", "").startswith("Patient/")
    }


def _item(resource: dict[str, Any]) -> Item:
    labels = frozenset((label["system"], label["code"]) for label in resource.get("meta", {}).get("security", []))
    dated = resource.get("effectiveDateTime")
    interval = instants(dated) if dated else None
    return Item(resource["resourceType"], labels, (interval,) if interval else ())


def _provision(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "actor": st.lists(st.sampled_from(ACTORS), min_size=1, max_size=2, unique_by=str),
        "purpose": st.lists(st.sampled_from([purpose(p) for p in Purpose]), min_size=1, max_size=2, unique_by=str),
        "class": st.lists(
            st.sampled_from(CLASSES).map(lambda code: {"system": "http://hl7.org/fhir/resource-types", "code": code}),
            min_size=1,
            max_size=2,
            unique_by=str,
        ),
        "securityLabel": st.lists(st.sampled_from([PSY, HIV]), min_size=1, max_size=2, unique_by=str),
        "dataPeriod": st.sampled_from([{"start": y} for y in YEARS] + [{"end": y} for y in YEARS]),
        "period": st.sampled_from(
            [{"start": "2020"}, {"end": "2021"}, {"start": "2030"}, {"start": "2020", "end": "2039"}]
        ),
    }
    chosen = st.fixed_dictionaries({"type": st.sampled_from(["permit", "deny"])}, optional=fields)
    if depth == 0:
        return chosen
    return st.tuples(chosen, st.lists(_provision(depth - 1), max_size=2)).map(
        lambda pair: {**pair[0], "provision": pair[1]} if pair[1] else pair[0]
    )


def _readable(provision: dict[str, Any], named: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Drop actors and labels a provision below already-named ones would repeat (the policy refuses those)."""
    here = {key: value for key, value in provision.items() if key not in named or key == "provision"}
    below = named | {key for key in ("actor", "securityLabel") if key in here}
    if "provision" in here:
        here["provision"] = [_readable(nested, below) for nested in here["provision"]]
    return here


CONSENTS = st.lists(
    st.tuples(
        st.sampled_from(PATIENTS),
        _provision(2).map(_readable),
        st.sampled_from(["active", "active", "inactive"]),
        st.sampled_from(["2023-01-01", "2024-01-01", "2025-01-01"]),
    ),
    max_size=4,
)
REQUESTS = st.one_of(
    st.builds(
        lambda organization, practitioner, municipality, client, why: AccessContext(
            kind=AccessKind.USER,
            purpose=why,
            organization=organization,
            practitioner=practitioner,
            municipality=municipality,
            client_id=client,
            subject="https://idp|someone",
        ),
        st.sampled_from([None, "Organization/a", "Organization/b"]),
        st.sampled_from([None, "Practitioner/d"]),
        st.sampled_from([None, "229990"]),
        st.sampled_from([None, "app-1"]),
        st.sampled_from(list(Purpose)),
    ),
    st.sampled_from(PATIENTS).map(
        lambda pinned: AccessContext(kind=AccessKind.PATIENT, purpose=Purpose.PERSONAL, patient=pinned)
    ),
)


def _permitted_set(access: AccessContext, consents: list[dict[str, Any]], base: BasePolicy, now: datetime) -> set[str]:
    terms: dict[str, list[ConsentTerms]] = {name: [] for name in PATIENTS}
    for written in consents:
        read = consent_terms(written, instants=instants)
        terms[read.patient].append(read)
    rules = {name: [rule for agreed in in_force(found) for rule in agreed.rules] for name, found in terms.items()}
    request = Request(
        actor_keys(
            organization=access.organization,
            practitioner=access.practitioner,
            client_id=access.client_id,
            municipality=access.municipality,
        ),
        access.purpose.value,
        now,
    )
    visible = set()
    for resource in _dataset():
        owners = _owners(resource) if resource["resourceType"] != "Organization" else None
        if owners is None:
            shown = True
        elif access.kind is AccessKind.PATIENT:
            shown = access.patient in owners
        else:
            shown = all(permitted(rules[owner], request, _item(resource), base) for owner in owners)
        if shown:
            visible.add(f"{resource['resourceType']}/{resource['id']}")
    return visible


@pytest.fixture
def stored(db: None) -> None:
    for resource in _dataset():
        resource_update(
            access=SYSTEM, resource_type=resource["resourceType"], logical_id=resource["id"], resource=resource
        )


def _seen(access: AccessContext) -> tuple[set[str], dict[str, int | None]]:
    seen: set[str] = set()
    totals: dict[str, int | None] = {}
    searches = [(t, "_total=accurate&_count=100") for t in TYPES] + [
        ("Observation", "_include=Observation:subject&_include=Observation:performer&_count=100"),
        ("Patient", "_revinclude=Observation:performer&_revinclude=Condition:subject&_count=100"),
    ]
    for resource_type, criteria in searches:
        result = resource_search(
            access=access, query=parse_query(resource_type, query_pairs(criteria)), types=(resource_type,)
        )
        found = {f"{v.resource_type}/{v.logical_id}" for v in result.matches}
        if "_total" in criteria:
            totals[resource_type] = result.total
            assert result.total == len(found)
        seen |= found | {f"{v.resource_type}/{v.logical_id}" for v in result.included}
    for resource_type in TYPES:
        page = resource_history(access=access, resource_type=resource_type, count=500)
        seen |= {f"{v.resource_type}/{v.logical_id}" for v in page.versions}
    return seen, totals


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(given_consents=CONSENTS, access=REQUESTS, base=st.sampled_from(list(BasePolicy)))
def test_nothing_outside_the_permitted_set_is_ever_returned(
    stored: None, given_consents: list[tuple[str, dict[str, Any], str, str]], access: AccessContext, base: BasePolicy
) -> None:
    consents = [
        {**consent(name, provision, when=when, status=status), "id": str(uuid.uuid4())}
        for name, provision, status, when in given_consents
    ]
    for written in consents:
        resource_update(access=SYSTEM, resource_type="Consent", logical_id=written["id"], resource=written)
    try:
        with override_settings(CONSENT_BASE_POLICY=base.value):
            expected = _permitted_set(access, consents, base, timezone.now())
            seen, _ = _seen(access)
            assert seen <= expected, seen - expected
            searched = set()
            for resource_type in TYPES:
                result = resource_search(
                    access=access, query=parse_query(resource_type, query_pairs("_count=100")), types=(resource_type,)
                )
                searched |= {f"{v.resource_type}/{v.logical_id}" for v in result.matches}
            assert searched == expected, searched ^ expected
            for reference in ("Patient/q1", "Observation/q2-hiv", "Condition/q3-psy"):
                resource_type, logical_id = reference.split("/")
                if reference in expected:
                    resource_read(access=access, resource_type=resource_type, logical_id=logical_id)
                else:
                    with pytest.raises(FhirError) as raised:
                        resource_read(access=access, resource_type=resource_type, logical_id=logical_id)
                    assert raised.value.status == 404
    finally:
        for written in consents:
            resource_delete(access=SYSTEM, resource_type="Consent", logical_id=written["id"])
