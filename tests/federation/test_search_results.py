"""Result parameters: paging, _sort, _include/_revinclude, _summary, _elements, _total; query budgets."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.federation.search_data import jp_patient, lab

HBA1C = "3D045000001906202"


def page_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def link(bundle, relation):
    return next((item["url"] for item in bundle["link"] if item["relation"] == relation), None)


def matches(bundle):
    return [entry["resource"]["id"] for entry in bundle.get("entry", []) if entry["search"]["mode"] == "match"]


def all_matches(fhir, url: str | None) -> list[str]:
    """Follow next links from `url` to the end, collecting the matched ids in order."""
    seen: list[str] = []
    while url:
        bundle = fhir.get(url).json()
        seen += matches(bundle)
        next_url = link(bundle, "next")
        url = page_path(next_url) if next_url else None
    return seen


@pytest.fixture
def clinic(fhir):
    for number in range(1, 8):
        fhir.put(
            f"/fhir/Patient/p{number}",
            jp_patient(
                f"p{number}", ("山田", f"{number}郎"), ("やまだ", f"{number}ろう"), birthDate=f"19{40 + number}"
            ),
        )
    fhir.put("/fhir/Organization/o1", {"resourceType": "Organization", "id": "o1", "name": "つなぎ病院"})
    for number in range(1, 8):
        observation = lab(f"ob{number}", f"p{number}", HBA1C, 5 + number / 10, "%", f"2026-0{number}-01")
        observation["performer"] = [{"reference": "Organization/o1"}]
        fhir.put(f"/fhir/Observation/ob{number}", observation)
    return fhir


def test_pages_follow_next_links_to_the_end(clinic):
    assert all_matches(clinic, "/fhir/Patient?name=やまだ&_count=3") == [f"p{number}" for number in range(1, 8)]


def test_previous_link_returns_the_page_before(clinic):
    first = clinic.get("/fhir/Patient?_count=3&_sort=birthdate").json()
    second = clinic.get(page_path(link(first, "next"))).json()
    back = clinic.get(page_path(link(second, "previous"))).json()

    assert matches(back) == matches(first)
    assert link(first, "previous") is None


def test_paging_stays_correct_when_data_changes_between_pages(clinic):
    first = clinic.get("/fhir/Patient?_count=3").json()
    clinic.delete("/fhir/Patient/p1")  # already served
    clinic.put("/fhir/Patient/p0", jp_patient("p0", ("山田", "零"), ("やまだ", "れい")))
    rest = []
    url = link(first, "next")
    while url:
        bundle = clinic.get(page_path(url)).json()
        rest += matches(bundle)
        url = link(bundle, "next")

    assert matches(first) == ["p1", "p2", "p3"]
    assert rest == ["p4", "p5", "p6", "p7", "p0"]


def test_sort_by_date_both_ways_and_by_several_keys(clinic):
    assert matches(clinic.get("/fhir/Patient?_sort=-birthdate&_count=3").json()) == ["p7", "p6", "p5"]
    assert matches(clinic.get("/fhir/Observation?_sort=date&_count=2").json()) == ["ob1", "ob2"]
    assert matches(clinic.get("/fhir/Patient?_sort=family,-birthdate&_count=2").json()) == ["p7", "p6"]


def test_sort_by_string_and_quantity(clinic):
    assert matches(clinic.get("/fhir/Patient?_sort=-given&_count=1").json()) == ["p7"]
    assert matches(clinic.get("/fhir/Observation?_sort=-value-quantity&_count=2").json()) == ["ob7", "ob6"]


def test_sorted_pages_chain_without_gaps(clinic):
    assert all_matches(clinic, "/fhir/Observation?_sort=-date&_count=2") == [f"ob{n}" for n in range(7, 0, -1)]


def test_include_marks_included_resources(clinic):
    bundle = clinic.get(
        "/fhir/Observation?_id=ob1,ob2&_include=Observation:subject&_include=Observation:performer"
    ).json()

    modes = sorted((entry["search"]["mode"], entry["resource"]["id"]) for entry in bundle["entry"])
    assert modes == [("include", "o1"), ("include", "p1"), ("include", "p2"), ("match", "ob1"), ("match", "ob2")]


def test_include_wildcard_and_target_type(clinic):
    everything = clinic.get("/fhir/Observation?_id=ob1&_include=Observation:*").json()
    patients_only = clinic.get("/fhir/Observation?_id=ob1&_include=Observation:subject:Patient").json()

    assert {entry["resource"]["id"] for entry in everything["entry"]} == {"ob1", "p1", "o1"}
    assert {entry["resource"]["id"] for entry in patients_only["entry"]} == {"ob1", "p1"}


def test_revinclude_and_iterate(clinic):
    bundle = clinic.get(
        "/fhir/Patient?_id=p2&_revinclude=Observation:subject&_include:iterate=Observation:performer"
    ).json()

    found = sorted((entry["search"]["mode"], entry["resource"]["id"]) for entry in bundle["entry"])
    assert found == [("include", "o1"), ("include", "ob2"), ("match", "p2")]


def test_summary_count_and_total(clinic):
    count = clinic.get("/fhir/Patient?_summary=count").json()
    accurate = clinic.get("/fhir/Patient?_total=accurate&_count=2").json()
    estimated = clinic.get("/fhir/Patient?_total=estimate&_count=2").json()

    assert count["total"] == 7
    assert "entry" not in count
    assert accurate["total"] == 7
    assert isinstance(estimated["total"], int)


def test_total_is_given_free_when_everything_fits_one_page(clinic):
    assert clinic.get("/fhir/Patient?birthdate=lt1944").json()["total"] == 3


def test_summary_and_elements_subset_and_mark(clinic):
    summary = clinic.get("/fhir/Patient?_id=p1&_summary=true").json()["entry"][0]["resource"]
    elements = clinic.get("/fhir/Patient?_id=p1&_elements=birthDate").json()["entry"][0]["resource"]
    data = clinic.get("/fhir/Observation?_id=ob1&_summary=data").json()["entry"][0]["resource"]

    assert "name" in summary
    assert set(elements) == {"resourceType", "id", "meta", "birthDate"}
    assert any(tag["code"] == "SUBSETTED" for tag in elements["meta"]["tag"])
    assert "text" not in data


def test_count_zero_and_bad_result_parameters(clinic):
    assert "entry" not in clinic.get("/fhir/Patient?_count=0").json()
    assert clinic.get("/fhir/Patient?_count=many").status_code == 400
    assert clinic.get("/fhir/Patient?_sort=unknown").status_code == 400
    assert clinic.get("/fhir/Patient?_summary=maybe").status_code == 400
    assert clinic.get("/fhir/Patient?_include=Observation:nothing").status_code == 400
    assert clinic.get("/fhir/Patient?_page_token=forged").status_code == 400


def test_compartment_search(clinic):
    bundle = clinic.get("/fhir/Patient/p3/Observation").json()

    assert matches(bundle) == ["ob3"]
    assert clinic.get("/fhir/Patient/p3/Organization").status_code == 400


def test_system_search_over_types(clinic):
    bundle = clinic.get("/fhir?_type=Patient,Organization&_id=p1,o1").json()

    assert sorted(matches(bundle)) == ["o1", "p1"]
    assert clinic.get("/fhir?_type=Unicorn").status_code == 400


# Query budgets: includes and chains are a fixed number of queries, never one per resource. Every request also
# pays a fixed AUDIT_QUERIES for its audit entry: the savepoints around the interaction and around the request
# (a transaction outside tests), the persons' lookup (the rows, then their references probed row by row: one join
# let PostgreSQL start from every reference to a Patient), the break-the-glass probe for staff contexts, the
# chain's lock, its head and the INSERT.
AUDIT_QUERIES = 9


def test_search_with_includes_costs_a_fixed_number_of_queries(clinic, django_assert_max_num_queries):
    with django_assert_max_num_queries(6 + AUDIT_QUERIES):
        bundle = clinic.get(
            "/fhir/Observation?_count=7&_include=Observation:subject&_include=Observation:performer"
        ).json()
    assert len(bundle["entry"]) == 7 + 7 + 1


def test_revinclude_costs_a_fixed_number_of_queries(clinic, django_assert_max_num_queries):
    with django_assert_max_num_queries(4 + AUDIT_QUERIES):
        bundle = clinic.get("/fhir/Patient?_count=7&_revinclude=Observation:subject").json()
    assert len(bundle["entry"]) == 14


def test_chained_search_is_one_query(clinic, django_assert_max_num_queries):
    with django_assert_max_num_queries(2 + AUDIT_QUERIES):
        clinic.get(f"/fhir/Observation?subject:Patient.name=やまだ&code={HBA1C}&patient.birthdate=lt1950")
