"""The MLLP listener on a real socket: every frame is kept, stored and acknowledged."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command

from connectors.mllp import END_BLOCK, START_BLOCK, frames, listener_create
from connectors.models import InboundMessage, SourceSystem
from federation.models import Resource
from tests.federation.identity.stored import source_patients

ADT = (
    "MSH|^~\\&|HIS|SEND|GW|RCV|20260301093000||ADT^A08^ADT_A01|MSG00001|P|2.5||||||~ISO IR87||ISO2022-1994\r"
    "EVN||20260301093000\r"
    "PID|0001||0000012345^^^^PI||国病^太郎^^^^^L^I~コクビョウ^タロウ^^^^^L^P||19400401|M\r"
    "PV1|0001|N\r"
)


@pytest.fixture
def listener(transactional_db) -> Iterator[tuple[str, int]]:
    call_command("add_source", "--code", "his", "--connector", "hl7v2", "--organization-name", "HIS", stdout=StringIO())
    server = listener_create(SourceSystem.objects.get(code="his"), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield str(server.server_address[0]), int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def exchange(address: tuple[str, int], *messages: bytes) -> list[str]:
    """Send framed messages on one connection; the ACKs' MSA segments."""
    with socket.create_connection(address, timeout=30) as connection:
        replies = []
        for message in messages:
            connection.sendall(START_BLOCK + message + END_BLOCK)
            reply = b""
            while not reply.endswith(END_BLOCK):
                reply += connection.recv(65536)
            msa = next(s for s in reply.strip(START_BLOCK + END_BLOCK).split(b"\r") if s.startswith(b"MSA"))
            replies.append(msa.decode("ascii"))
    return replies


def test_a_message_is_stored_and_acknowledged_aa(listener):
    (msa,) = exchange(listener, ADT.encode("iso2022_jp"))

    assert msa.startswith("MSA|AA|MSG00001|")
    (patient,) = Resource.objects.filter(resource_type="Patient").values_list("content", flat=True)
    assert patient is not None
    names = {(name.get("family"), tuple(name.get("given", []))) for name in patient["name"]}
    assert names == {("国病", ("太郎",)), ("コクビョウ", ("タロウ",))}


def test_bad_and_garbage_frames_are_kept_and_answered_ae_and_ar(listener):
    bad_date = ADT.replace("19400401", "19400230").replace("MSG00001", "MSG00002")

    replies = exchange(listener, bad_date.encode("iso2022_jp"), b"\x00\x01 not hl7")

    assert replies[0].startswith("MSA|AE|MSG00002|")
    assert "19400230" in replies[0]
    assert replies[1].startswith("MSA|AR||")
    assert InboundMessage.objects.count() == 2  # both kept, raw first


def test_the_same_frame_twice_is_acknowledged_twice_and_stored_once(listener):
    replies = exchange(listener, ADT.encode("iso2022_jp"), ADT.encode("iso2022_jp"))

    assert [reply[:7] for reply in replies] == ["MSA|AA|", "MSA|AA|"]
    assert InboundMessage.objects.count() == 1
    assert source_patients().count() == 1


def test_frames_are_cut_at_each_end_block_and_a_trailing_partial_frame_is_dropped():
    stream = BytesIO(b"\x0bA\x1c\x0d\x0bB\x1c\x0d\x0bpartial")

    assert list(frames(stream)) == [b"A", b"B"]
