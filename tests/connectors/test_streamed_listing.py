"""An SS-MIX2 tree is stored while it is still being walked: the same outcome as a tree listed first, and a walk
that fails midway fails the run rather than ending it early as if the tree were smaller."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from connectors.models import InboundMessage, MessageStatus
from connectors.ssmix2.connector import CONNECTOR
from federation.models import Resource
from tests.connectors.test_pipeline import ingest

pytestmark = pytest.mark.django_db(transaction=True)  # the worker processes read what this one committed

# What the tree's 13 current messages store (their golden file: storage__generated.expected.json), Provenances aside
STORED = Counter(
    {
        "AllergyIntolerance": 1,
        "Condition": 2,
        "Coverage": 2,
        "DiagnosticReport": 4,
        "Encounter": 3,
        "MedicationRequest": 1,
        "Observation": 18,
        "Organization": 1,
        "Patient": 3,
    }
)
TREE = Path(__file__).resolve().parents[2] / "fixtures" / "ssmix2" / "storage__generated"


@pytest.fixture
def ward() -> str:
    call_command(
        "add_source",
        "--code",
        "ward-x",
        "--connector",
        "ssmix2",
        "--organization-name",
        "テスト病院",
        "--organization-identifier",
        "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no|1311234567",
        stdout=StringIO(),
    )
    return "ward-x"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return Path(shutil.copytree(TREE, tmp_path / "tree"))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_file_of_the_tree_is_stored_once_whatever_the_workers(ward, tree, workers):
    listed = list(CONNECTOR.paths(tree))

    code, summary = ingest("--connector", "ssmix2", "--source", ward, "--workers", workers, str(tree))

    assert (code, summary["first_errors"]) == (0, [])
    assert (summary["received"], summary["records"], summary["quarantined"]) == (len(listed), len(listed), 0)
    assert InboundMessage.objects.filter(status=MessageStatus.STORED).count() == len(listed)
    stored = Counter(Resource.objects.exclude(resource_type="Provenance").values_list("resource_type", flat=True))
    assert stored == STORED


def test_a_walk_that_fails_midway_fails_the_run(ward, tree, monkeypatch):
    listed = list(CONNECTOR.paths(tree))

    def failing(root: Path) -> Iterator[Path]:
        yield from listed[:3]
        raise OSError("the storage went away")

    monkeypatch.setattr(CONNECTOR, "paths", failing)
    with pytest.raises(OSError, match="the storage went away"):
        ingest("--connector", "ssmix2", "--source", ward, "--workers", "2", str(tree))
