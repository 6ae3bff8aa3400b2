"""Shared test helpers: a FHIR client over Django's test client with a system token, against real PostgreSQL."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FHIR_JSON = "application/fhir+json"


def system_token(scope: str = "system/*.cruds") -> str:
    """A bearer token of a back-office client registered with `scope`, made in the database (how tokens are
    issued is tested in tests/consent)."""
    from oauth2_provider.models import AccessToken, Application

    from consent.clients import client_register
    from consent.models import ClientKind

    client = client_register(
        name="Test back office", kind=ClientKind.CONFIDENTIAL, organization="Organization/test", scopes=scope,
        redirect_uris=[],
    )  # fmt: skip
    token = AccessToken.objects.create(
        application=Application.objects.get(client_id=client.client_id),
        token=secrets.token_urlsafe(32),
        expires=timezone.now() + timedelta(hours=1),
        scope=scope,
    )
    return str(token.token)


class FhirClient:
    """Small wrapper: JSON bodies in and out, FHIR media type by default, the bearer token on every request."""

    def __init__(self, token: str | None = None) -> None:
        self.http = Client(headers={"Authorization": f"Bearer {token}"} if token else {})

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = FHIR_JSON,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        return self.http.generic(method, path, data=data or "", content_type=content_type, headers=headers or {})

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def fhir(db: None) -> FhirClient:
    return FhirClient(system_token())


@pytest.fixture(autouse=True)
def fresh_search_registry() -> None:
    """Each test sees the stored search parameters of its own database, not a previous test's."""
    from federation.search.registry import refresh_registry

    refresh_registry()


def patient(**fields: Any) -> dict[str, Any]:
    """A small valid Patient; keyword arguments override or add fields."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.11234567890", "value": "00012345"}],
        "name": [{"family": "山田", "given": ["花子"]}],
        "gender": "female",
        "birthDate": "1941-04-02",
        **fields,
    }


def issue_texts(response: Any) -> list[str]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return [issue.get("diagnostics", "") for issue in body["issue"]]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
