"""The `care` connector: a source's folder of seven CSV tables, each row one record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, all_files
from connectors.care import mapping, parser


class CareConnector:
    name = "care"

    def paths(self, root: Path) -> Iterator[Path]:
        """clients.csv first (full Patients before other rows' minimal ones), then the other tables in the
        format's order, then any other file (which the header check then reports)."""
        order = {name: position for position, name in enumerate(parser.FILE_NAMES)}
        yield from sorted(all_files(root), key=lambda path: (order.get(path.name, len(order)), path))

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        """One record per row, told apart by the file's header row, not by its name."""
        for row in parser.read(data, origin):
            if isinstance(row, RecordProblem):
                yield ParsedRecord(location=row.location, problem=row)
            else:
                yield ParsedRecord(location=row.location, entries=mapping.entries(source, row))


CONNECTOR = CareConnector()
