"""The `hl7v2` connector: a file or stream of HL7 v2.5 messages, bare or in FHS/BHS batches, one record each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, all_files
from connectors.hl7v2 import mapping
from connectors.hl7v2.parser import EnvelopeProblem, Hl7Error, Message, RawMessage, parse, read_messages


class Hl7v2Connector:
    name = "hl7v2"

    def paths(self, root: Path) -> Iterator[Path]:
        return all_files(root)

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        """One record per message (its resources form one transaction), keyed by MSH-10; envelope faults
        (stray segments, wrong batch counts) are records of their own."""
        for item in read_messages(data):
            if isinstance(item, EnvelopeProblem):
                yield envelope_record(origin, item)
            else:
                yield message_record(origin, f"{origin}:{item.line}", item, lambda message: _context(source, message))


def _context(source: SourceInfo, message: Message) -> mapping.MessageContext:
    control_id = message.control_id
    if not control_id:
        raise Hl7Error(message.header.line, "MSH-10", "MSH-10 message control ID is empty")
    return mapping.MessageContext(source, control_id)


def message_record(
    origin: str, location: str, raw: RawMessage, context: Callable[[Message], mapping.MessageContext]
) -> ParsedRecord:
    """A message's record: its entries, or the first problem found in it (the connector goes on)."""
    try:
        message = parse(raw)
        return ParsedRecord(location, mapping.entries(message, context(message)))
    except Hl7Error as error:
        where = f"{origin}:{error.line}" if error.line is not None else origin
        return ParsedRecord(location, problem=RecordProblem(where, error.field, error.reason))


def envelope_record(origin: str, problem: EnvelopeProblem) -> ParsedRecord:
    location = f"{origin}:{problem.line}" if problem.line is not None else origin
    return ParsedRecord(location, problem=RecordProblem(location, problem.field, problem.reason))


CONNECTOR = Hl7v2Connector()
