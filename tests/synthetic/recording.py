"""One in-memory Output for the writers' tests."""

from __future__ import annotations

import csv
import io


class Recorder:
    """An in-memory Output that keeps whole files and joins each shared table as the generator does: its header
    once, then every row."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self._headers: dict[str, bytes] = {}
        self._rows: dict[str, bytearray] = {}

    def write_file(self, relative: str, data: bytes) -> None:
        assert relative not in self.files, f"{relative} written twice"
        self.files[relative] = data

    def append_rows(self, relative: str, header: bytes, rows: bytes) -> None:
        assert self._headers.setdefault(relative, header) == header, f"{relative} started with another header"
        self._rows.setdefault(relative, bytearray()).extend(rows)

    @property
    def tables(self) -> list[str]:
        """The names of the tables written, in the order they were started."""
        return list(self._headers)

    def data(self, relative: str) -> bytes:
        """The table's bytes as the final file has them: the header, then every row."""
        return self._headers[relative] + self._rows[relative]

    def rows(self, relative: str) -> tuple[list[str], list[list[str]]]:
        """The table decoded from CP932 and parsed: its header and its rows."""
        header, *rows = csv.reader(io.StringIO(self.data(relative).decode("cp932"), newline=""))
        return header, rows

    def table(self, relative: str) -> list[dict[str, str]]:
        """The table's rows keyed by its header."""
        header, rows = self.rows(relative)
        return [dict(zip(header, row, strict=True)) for row in rows]
