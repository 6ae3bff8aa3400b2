"""MLLP listener: HL7 v2 messages over TCP, framed <VT> message <FS><CR>, each answered with an ACK.

Each frame is kept as a raw message first, then processed at once so the ACK can say how it went:
MSA-1 `AA` when every record was stored, `AE` when something was quarantined (the raw message is kept and
can be replayed), `AR` when the frame is not an HL7 message at all (no MSH). The ACK echoes MSH-10 in MSA-2.
"""

from __future__ import annotations

import io
import socketserver
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from django.db import close_old_connections

from connectors.hl7v2.parser import MAX_MESSAGE
from connectors.models import MessageStatus, SourceSystem
from connectors.pipeline import message_process, message_receive

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
MAX_FRAME_BYTES = MAX_MESSAGE  # what the HL7 v2 parser reads at most; a longer frame is kept and refused


def frames(stream: BinaryIO | io.BufferedIOBase) -> Iterator[bytes]:
    """The messages of an MLLP stream, without their framing; bytes after the last end block are dropped
    when the peer closes (an incomplete frame was never acknowledged, so the sender resends it)."""
    read = getattr(stream, "read1", stream.read)
    buffer = b""
    while chunk := read(65536):
        buffer += chunk
        while (end := buffer.find(END_BLOCK)) >= 0:
            frame, buffer = buffer[:end], buffer[end + len(END_BLOCK) :]
            start = frame.find(START_BLOCK)
            yield frame[start + 1 :] if start >= 0 else frame
        if len(buffer) > MAX_FRAME_BYTES:
            yield buffer  # no end block in sight: hand it on to be kept and refused
            buffer = b""


def header_fields(message: bytes) -> list[str]:
    """MSH split by its own field separator (MSH-1), enough to address the ACK; [] when there is no MSH."""
    start = message.find(b"MSH")
    if start < 0 or len(message) < start + 4:
        return []
    segment = message[start:].split(b"\r", 1)[0].split(b"\n", 1)[0].decode("ascii", errors="replace")
    separator = segment[3]
    return ["MSH", separator, *segment[4:].split(separator)]


def ack(message: bytes, code: str, text: str, *, now: datetime | None = None) -> bytes:
    """An HL7 v2.5 ACK for `message` with MSA-1 `code` (AA, AE, AR) and a short ASCII `text`."""
    fields = header_fields(message)

    def field(number: int) -> str:
        return fields[number] if len(fields) > number else ""

    trigger = field(9).split("^")[1] if "^" in field(9) else ""
    stamp = (now or datetime.now()).strftime("%Y%m%d%H%M%S")
    control = field(10)
    safe_text = text.replace("|", " ").replace("^", " ").replace("\r", " ")[:200]
    segments = [
        f"MSH|^~\\&|TSUNAGI|TSUNAGI|{field(3)}|{field(4)}|{stamp}||ACK^{trigger}^ACK|ACK{control}|P|2.5",
        f"MSA|{code}|{control}|{safe_text}",
    ]
    return START_BLOCK + "\r".join(segments).encode("ascii", errors="replace") + b"\r" + END_BLOCK


def frame_handle(source: SourceSystem, frame: bytes, peer: str) -> bytes:
    """Keep, process and acknowledge one frame."""
    fields = header_fields(frame)
    origin = f"mllp:{peer}:{fields[10] if len(fields) > 10 else 'no-msh'}"
    message, _ = message_receive(source=source, stream=io.BytesIO(frame), origin=origin)
    if not fields:
        return ack(frame, "AR", "not an HL7 v2 message (no MSH segment); kept for review")
    if message.status == MessageStatus.RECEIVED:
        message, problems = message_process(message_id=message.pk)
    else:
        problems = []
    if message.status == MessageStatus.STORED:
        return ack(frame, "AA", f"stored {message.records} record(s)")
    reason = problems[0] if problems else f"{message.quarantined} record(s) quarantined"
    return ack(frame, "AE", reason)


def listener_create(source: SourceSystem, host: str, port: int) -> socketserver.ThreadingTCPServer:
    """A TCP server (not yet serving) that acknowledges every frame from its peers for `source`."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            peer = f"{self.client_address[0]}"
            try:
                for frame in frames(self.rfile):
                    close_old_connections()
                    self.wfile.write(frame_handle(source, frame, peer))
                    self.wfile.flush()
            finally:
                close_old_connections()

    return _Server((host, port), Handler)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
