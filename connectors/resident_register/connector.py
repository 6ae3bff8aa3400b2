"""The `resident-register` connector: one record per residents.csv row, then one per household.

Households are told by residents.csv alone (the rows sharing a 世帯番号), and a household's rows may be
anywhere in the file, so the Groups come after the last row. Until then only each household's member
numbers are kept: about 100 bytes per resident, some 10 MB for a register of 100,000 people, whatever the
file's size. The Group records come after every Patient record, so their conditional member references
resolve when the pipeline stores the records in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from connectors.base import ParsedRecord, RecordProblem, SourceInfo, all_files
from connectors.jp import FieldError
from connectors.resident_register.mapping import (
    Member,
    check_movement,
    household_entries,
    resident_entries,
)
from connectors.resident_register.parser import RESIDENTS, BadRow, Table, open_table


class ResidentRegisterConnector:
    name = "resident-register"

    def paths(self, root: Path) -> Iterator[Path]:
        return all_files(root)

    def records(self, source: SourceInfo, data: BinaryIO, origin: str) -> Iterator[ParsedRecord]:
        table = open_table(data, origin)
        if isinstance(table, BadRow):
            yield _problem(origin, table.line, "", table.reason)
        elif table.name == RESIDENTS:
            yield from _residents(source, table, origin)
        else:
            yield from _movements(table, origin)


def _problem(origin: str, line: int, field: str, reason: str) -> ParsedRecord:
    location = f"{origin}:{line}"
    return ParsedRecord(location=location, problem=RecordProblem(location, field, reason))


def _residents(source: SourceInfo, table: Table, origin: str) -> Iterator[ParsedRecord]:
    households: dict[str, list[Member]] = {}
    broken: dict[str, int] = {}  # household -> the line of a member row that could not be taken
    for row in table.rows:
        if isinstance(row, BadRow):
            yield _problem(origin, row.line, "", row.reason)
            continue
        household = row.fields["世帯番号"]
        try:
            entries, member = resident_entries(source, row.fields)
        except FieldError as problem:
            if household:
                broken.setdefault(household, row.line)
            yield _problem(origin, row.line, problem.field, problem.reason)
            continue
        households.setdefault(household, []).append(member)
        yield ParsedRecord(location=f"{origin}:{row.line}", entries=entries)
    for household in sorted(households.keys() | broken.keys()):
        location = f"{origin}:世帯番号={household}"
        if household in broken:
            reason = (
                f"household {household} is left out: the row of one of its members (line {broken[household]}) "
                "could not be taken, and a household without all its members would misstate who lives alone"
            )
            yield ParsedRecord(location=location, problem=RecordProblem(location, "世帯番号", reason))
        else:
            yield ParsedRecord(location=location, entries=household_entries(source, household, households[household]))


def _movements(table: Table, origin: str) -> Iterator[ParsedRecord]:
    """Each 異動 row is checked and yields a record without entries (see the docs: residents.csv carries
    the state that is mapped; the raw file keeps the history)."""
    for row in table.rows:
        if isinstance(row, BadRow):
            yield _problem(origin, row.line, "", row.reason)
            continue
        try:
            check_movement(row.fields)
        except FieldError as problem:
            yield _problem(origin, row.line, problem.field, problem.reason)
            continue
        yield ParsedRecord(location=f"{origin}:{row.line}")


CONNECTOR = ResidentRegisterConnector()
