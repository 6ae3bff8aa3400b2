"""SMART v1 and v2 scopes read to the same grants; malformed resource scopes are refused by name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.scopes import Interaction, ScopeContext, ScopeError, grant_of

R, S, C, U, D = Interaction.READ, Interaction.SEARCH, Interaction.CREATE, Interaction.UPDATE, Interaction.DELETE


@pytest.mark.parametrize(
    ("v1", "v2"),
    [
        ("patient/Observation.read", "patient/Observation.rs"),
        ("user/*.write", "user/*.cud"),
        ("system/*.*", "system/*.cruds"),
    ],
)
def test_v1_scopes_mean_what_their_v2_spelling_means(v1, v2):
    assert grant_of(v1) == grant_of(v2)


@given(st.lists(st.sampled_from("cruds"), min_size=1, unique=True), st.sampled_from(list(ScopeContext)))
def test_any_ordered_set_of_v2_letters_grants_exactly_those_interactions(letters, context):
    ordered = "".join(sorted(letters, key="cruds".index))
    grant = grant_of(f"{context}/Condition.{ordered}")

    for interaction in Interaction:
        assert grant.allows(context, "Condition", interaction) is (interaction.value in ordered)
    assert not grant.allows(context, "Observation", R)
    other_contexts = [other for other in ScopeContext if other is not context]
    assert not any(grant.allows(other, "Condition", Interaction(ordered[0])) for other in other_contexts)


def test_a_wildcard_type_covers_every_type_in_its_context_only():
    grant = grant_of("patient/*.rs")

    assert grant.allows(ScopeContext.PATIENT, "MedicationRequest", S)
    assert not grant.allows(ScopeContext.USER, "MedicationRequest", S)
    assert not grant.allows(ScopeContext.PATIENT, "MedicationRequest", C)


def test_v2_search_parameters_narrow_a_scope_unless_another_scope_allows_it_whole():
    narrowed = grant_of("patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs")
    assert narrowed.narrowing(ScopeContext.PATIENT, "Observation", S) == [
        (("category", "laboratory"),),
        (("category", "vital-signs"),),
    ]

    whole = grant_of("patient/Observation.rs?category=laboratory patient/*.read")
    assert whole.narrowing(ScopeContext.PATIENT, "Observation", S) is None


def test_the_rest_of_a_grant_is_kept_as_written():
    grant = grant_of("openid fhirUser launch/patient offline_access patient/*.rs")

    assert grant.others == {"openid", "fhirUser", "launch/patient", "offline_access"}
    assert grant.offline


@pytest.mark.parametrize(
    "scope",
    ["patient/Observation.sr", "patient/Observation.rr", "user/Observation.x", "patient/observation.read",
     "system/*.", "patient/Observation.*?category=laboratory"],
)  # fmt: skip
def test_a_malformed_resource_scope_is_refused_by_name(scope):
    with pytest.raises(ScopeError, match=scope.split("?")[0].replace("*", r"\*").replace(".", r"\.")):
        grant_of(scope)
