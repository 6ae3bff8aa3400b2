"""A batch's InboundMessage rows in one statement: new ones created, known ones found, a parallel lane's seen."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection

from connectors.inbound import Kept, messages_record
from connectors.models import InboundMessage, SourceSystem
from connectors.pipeline import source_register


def registered(code: str) -> SourceSystem:
    source, _ = source_register(code=code, connector="ssmix2", organization_name=code)
    return source


@pytest.mark.django_db
def test_new_messages_get_rows_and_the_first_of_the_same_bytes_names_them():
    source = registered("hospital-x")
    kept = [Kept("a/1", "a" * 64, 10), Kept("b/2", "b" * 64, 20), Kept("c/3", "a" * 64, 10)]

    recorded = messages_record(source=source, kept=kept)

    assert [(message.origin, message.size, new) for message, new in recorded] == [
        ("a/1", 10, True),
        ("b/2", 20, True),
        ("a/1", 10, True),
    ]
    assert recorded[0][0].pk == recorded[2][0].pk
    assert InboundMessage.objects.count() == 2
    assert {message.status for message, _ in recorded} == {"received"}


@pytest.mark.django_db
def test_the_same_bytes_again_are_the_same_message_and_another_source_gets_its_own():
    source, other = registered("hospital-x"), registered("hospital-y")
    (first, _), (second, _) = messages_record(source=source, kept=[Kept("a/1", "a" * 64, 10), Kept("b", "b" * 64, 2)])

    again = messages_record(source=source, kept=[Kept("a/1-resent", "a" * 64, 10), Kept("c", "c" * 64, 3)])
    elsewhere = messages_record(source=other, kept=[Kept("a/1", "a" * 64, 10)])

    assert [(message.pk, message.origin, new) for message, new in again[:1]] == [(first.pk, "a/1", False)]
    assert again[1][1] is True
    assert elsewhere[0][1] is True
    assert elsewhere[0][0].pk not in {first.pk, second.pk}
    assert InboundMessage.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_row_a_parallel_lane_adds_meanwhile_is_found_not_lost():
    """The other lane's INSERT is not committed when this statement starts; it waits for it, skips it, and the
    row is read once the other commits."""
    source = registered("hospital-x")
    # Django's own parameters for this database: the embedded server's socket comes in OPTIONS, not HOST
    wanted = ("host", "port", "user", "password", "dbname")
    lane = psycopg.connect(**{key: value for key, value in connection.get_connection_params().items() if key in wanted})
    lane.execute(
        "INSERT INTO connectors_inboundmessage (source_id, sha256, origin, size, received_at, status, records, "
        "created, updated, unchanged, deleted, quarantined) VALUES (%s, %s, 'lane', 10, now(), 'received', 0, 0, 0, "
        "0, 0, 0)",
        [source.pk, "a" * 64],
    )
    commit = threading.Timer(0.5, lane.commit)
    commit.start()
    try:
        ((message, new),) = messages_record(source=source, kept=[Kept("here", "a" * 64, 10)])
    finally:
        commit.join()
        lane.close()

    assert (message.origin, new) == ("lane", False)
    assert InboundMessage.objects.count() == 1
