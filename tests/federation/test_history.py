"""History at instance, type and system level: order, _since, _count and stable paging."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.conftest import patient


def page_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_instance_history_lists_versions_newest_first(fhir):
    created = fhir.post("/fhir/Patient", patient()).json()
    url = f"/fhir/Patient/{created['id']}"
    fhir.put(url, {**created, "gender": "male"})

    history = fhir.get(f"{url}/_history").json()

    assert history["type"] == "history"
    assert [entry["resource"]["meta"]["versionId"] for entry in history["entry"]] == ["2", "1"]
    assert history["entry"][0]["request"] == {"method": "PUT", "url": f"Patient/{created['id']}"}
    assert history["entry"][1]["request"] == {"method": "POST", "url": "Patient"}
    assert history["entry"][0]["response"]["etag"] == 'W/"2"'
    assert history["entry"][0]["fullUrl"] == f"http://testserver/fhir/Patient/{created['id']}"


def test_instance_history_of_unknown_resource_is_404(fhir):
    assert fhir.get("/fhir/Patient/nobody/_history").status_code == 404


def test_type_history_holds_only_that_type(fhir):
    fhir.post("/fhir/Patient", patient())
    fhir.post("/fhir/Organization", {"resourceType": "Organization", "name": "つなぎ病院"})

    history = fhir.get("/fhir/Organization/_history").json()

    assert [entry["resource"]["resourceType"] for entry in history["entry"]] == ["Organization"]


def test_system_history_holds_every_type(fhir):
    fhir.post("/fhir/Patient", patient())
    fhir.post("/fhir/Organization", {"resourceType": "Organization", "name": "つなぎ病院"})

    history = fhir.get("/fhir/_history").json()

    assert [entry["resource"]["resourceType"] for entry in history["entry"]] == ["Organization", "Patient"]


def test_since_keeps_versions_at_or_after_the_instant(fhir):
    fhir.post("/fhir/Patient", patient(gender="male"))
    later = fhir.post("/fhir/Patient", patient(gender="female")).json()
    since = later["meta"]["lastUpdated"]

    history = fhir.get(f"/fhir/Patient/_history?_since={since.replace('+', '%2B')}").json()

    assert [entry["resource"]["id"] for entry in history["entry"]] == [later["id"]]


def test_count_pages_with_next_links_until_the_end(fhir):
    ids = [fhir.post("/fhir/Patient", patient()).json()["id"] for _ in range(5)]

    seen: list[str] = []
    url: str | None = "/fhir/Patient/_history?_count=2"
    while url:
        page = fhir.get(url).json()
        seen += [entry["resource"]["id"] for entry in page["entry"]]
        next_links = [link["url"] for link in page["link"] if link["relation"] == "next"]
        url = page_path(next_links[0]) if next_links else None

    assert seen == list(reversed(ids))


def test_pages_stay_correct_when_data_changes_between_them(fhir):
    ids = [fhir.post("/fhir/Patient", patient()).json()["id"] for _ in range(4)]
    first = fhir.get("/fhir/Patient/_history?_count=2").json()
    next_url = page_path(next(link["url"] for link in first["link"] if link["relation"] == "next"))

    fhir.post("/fhir/Patient", patient())  # a write between pages lands before page one
    second = fhir.get(next_url).json()

    assert [entry["resource"]["id"] for entry in second["entry"]] == [ids[1], ids[0]]


def test_count_is_capped(fhir):
    fhir.post("/fhir/Patient", patient())

    assert fhir.get("/fhir/_history?_count=100000").status_code == 200
