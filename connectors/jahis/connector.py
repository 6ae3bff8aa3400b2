"""The `jahis` connector: one JAHIS 電子版お薬手帳 file at a time, each part of it one record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, all_files
from connectors.jahis import mapping, parser


class JahisConnector:
    name = "jahis"

    def paths(self, root: Path) -> Iterator[Path]:
        """In path order: a pharmacy's files of one patient sort by dispensing day, so the newest record 1
        (an address the pharmacy learnt later) is the last to update the Patient."""
        return all_files(root)

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        """The patient part, the OTC drugs, then each dispensing; the patient number comes from the file name
        (parser.file_name)."""
        file = parser.file_name(origin)
        for part in parser.read(data, origin):
            if isinstance(part, RecordProblem):
                yield ParsedRecord(location=part.location, problem=part)
            else:
                yield ParsedRecord(location=f"{origin}:{part.line}", entries=mapping.entries(source, file, part))


CONNECTOR = JahisConnector()
