"""consent.policy on its own: reading Consents into rules, which Consents count, and the decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent.contracts import Purpose
from consent.policy import (
    BasePolicy,
    Effect,
    Item,
    Request,
    Rule,
    Span,
    UnreadableConsentError,
    actor_keys,
    consent_terms,
    in_force,
    permitted,
)
from tests.consent.consents import PSY, actor, app_actor, consent, instants, municipality_actor, purpose

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DOCTOR_A = Request(frozenset({"Organization/a", "Practitioner/d"}), Purpose.TREATMENT.value, NOW)
DOCTOR_B = Request(frozenset({"Organization/b"}), Purpose.TREATMENT.value, NOW)
LAB = Item("Observation", frozenset(), ((datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)),))
PSYCHIATRIC = Item("Condition", frozenset({(PSY["system"], PSY["code"])}), ())


def _rules(*given: dict[str, object]) -> list[Rule]:
    terms = [consent_terms({**c, "id": f"c{i}"}, instants=instants) for i, c in enumerate(given)]
    return [rule for agreed in in_force(terms) for rule in agreed.rules]


def test_nested_provisions_are_exceptions_to_their_parent() -> None:
    rules = _rules(
        consent("p", {"type": "deny", "provision": [{"type": "permit", "actor": [actor("Organization/a")]}]})
    )
    assert [(rule.depth, rule.effect, rule.actor) for rule in rules] == [
        (0, Effect.DENY, None),
        (1, Effect.PERMIT, "Organization/a"),
    ]
    assert permitted(rules, DOCTOR_A, LAB, BasePolicy.OPT_OUT)
    assert not permitted(rules, DOCTOR_B, LAB, BasePolicy.OPT_OUT)


def test_a_deeper_deny_beats_its_permitting_parent_and_deny_beats_permit_between_consents() -> None:
    nested = consent("p", {"type": "permit", "provision": [{"type": "deny", "securityLabel": [PSY]}]})
    assert not permitted(_rules(nested), DOCTOR_A, PSYCHIATRIC, BasePolicy.OPT_OUT)
    assert permitted(_rules(nested), DOCTOR_A, LAB, BasePolicy.OPT_IN)
    app = consent("p", {"type": "permit", "actor": [app_actor("app-1")]})
    everyone = consent("p", {"type": "deny"})
    with_app = Request(frozenset({"client:app-1"}), Purpose.TREATMENT.value, NOW)
    assert not permitted(_rules(app, everyone), with_app, LAB, BasePolicy.OPT_OUT)


def test_the_newer_consent_about_the_same_grantee_replaces_the_older() -> None:
    older = consent("p", {"type": "deny"}, when="2024-01-01")
    newer = consent("p", {"type": "permit"}, when="2025-01-01")
    assert permitted(_rules(older, newer), DOCTOR_B, LAB, BasePolicy.OPT_IN)
    assert not permitted(_rules({**older, "dateTime": "2026-01-01"}, newer), DOCTOR_B, LAB, BasePolicy.OPT_IN)
    for_a = consent("p", {"type": "permit", "actor": [actor("Organization/a")]}, when="2025-06-01")
    assert (
        len(in_force(consent_terms({**c, "id": str(i)}, instants=instants) for i, c in enumerate([older, for_a]))) == 2
    )


def test_inactive_consents_do_not_count() -> None:
    for status in ("inactive", "rejected", "proposed", "draft", "entered-in-error"):
        assert _rules(consent("p", {"type": "deny"}, status=status)) == []
    assert permitted([], DOCTOR_B, LAB, BasePolicy.OPT_OUT)
    assert not permitted([], DOCTOR_B, LAB, BasePolicy.OPT_IN)


def test_purpose_type_period_and_validity_narrow_a_rule() -> None:
    welfare = Request(frozenset({"municipality:229990"}), Purpose.WELFARE_SUPPORT.value, NOW)
    no_welfare = _rules(consent("p", {"type": "deny", "purpose": [purpose(Purpose.WELFARE_SUPPORT)]}))
    assert not permitted(no_welfare, welfare, LAB, BasePolicy.OPT_OUT)
    assert permitted(no_welfare, DOCTOR_A, LAB, BasePolicy.OPT_OUT)
    town = _rules(consent("p", {"type": "deny", "actor": [municipality_actor("229990")]}))
    assert not permitted(town, welfare, LAB, BasePolicy.OPT_OUT)
    conditions = _rules(
        consent("p", {"type": "deny", "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Condition"}]})
    )
    assert (
        permitted(conditions, DOCTOR_A, LAB, BasePolicy.OPT_OUT),
        permitted(conditions, DOCTOR_A, PSYCHIATRIC, BasePolicy.OPT_OUT),
    ) == (True, False)
    old_data = _rules(consent("p", {"type": "deny", "dataPeriod": {"end": "2023-12-31"}}))
    assert permitted(old_data, DOCTOR_A, LAB, BasePolicy.OPT_OUT)
    assert not permitted(old_data, DOCTOR_A, PSYCHIATRIC, BasePolicy.OPT_OUT)  # undated: a deny covers it
    recent_only = _rules(consent("p", {"type": "permit", "dataPeriod": {"start": "2024"}}))
    assert permitted(recent_only, DOCTOR_A, LAB, BasePolicy.OPT_IN)
    assert not permitted(recent_only, DOCTOR_A, PSYCHIATRIC, BasePolicy.OPT_IN)  # undated: a permit does not
    expired = _rules(consent("p", {"type": "deny", "period": {"end": "2025-12-31"}}))
    assert permitted(expired, DOCTOR_A, LAB, BasePolicy.OPT_OUT)


def test_conditions_accumulate_down_a_branch() -> None:
    rules = _rules(
        consent(
            "p",
            {
                "type": "permit",
                "class": [
                    {"system": "http://hl7.org/fhir/resource-types", "code": "Observation"},
                    {"system": "http://hl7.org/fhir/resource-types", "code": "Condition"},
                ],
                "provision": [
                    {
                        "type": "deny",
                        "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Condition"}],
                        "dataPeriod": {"start": "2020"},
                    }
                ],
            },
        )
    )
    assert rules[1].resource_types == frozenset({"Condition"})
    assert rules[1].data_period is not None
    assert rules[1].data_period == Span(instants("2020")[0], None)


def test_actor_keys_name_every_tie_of_the_actor() -> None:
    keys = actor_keys(organization="Organization/a", practitioner=None, client_id="app", municipality="229990")
    assert keys == frozenset({"Organization/a", "client:app", "municipality:229990"})


def test_an_unreadable_consent_names_the_element() -> None:
    with pytest.raises(UnreadableConsentError) as raised:
        consent_terms(consent("p", {"type": "maybe"}), instants=instants)
    assert raised.value.expression == "Consent.provision.type"
