"""Where writers put bytes: per-person files directly, shared tables as rows gathered per chunk.

People are simulated in chunks (possibly in several processes). A shared table (a facility's CSV, the
resident register) gets its rows from every chunk, so each chunk appends to its own part file and the
parts are joined in chunk order at the end: the bytes do not depend on how many processes ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol


class Output(Protocol):
    def write_file(self, relative: str, data: bytes) -> None:
        """Write one whole file (an SS-MIX2 message, a JAHIS file, a FHIR Bundle)."""

    def append_rows(self, relative: str, header: bytes, rows: bytes) -> None:
        """Append encoded rows to a shared table; `header` (may be b"") starts the final file once."""


class ChunkOutput:
    """An Output for one chunk of people under `root/prefix`: files go to their place, table rows to this
    chunk's part files under `root/.parts/prefix`, which `join_parts(root)` joins."""

    def __init__(self, root: Path, prefix: str, chunk: int) -> None:
        self.root = root / prefix
        self.parts = root / ".parts" / prefix
        self.chunk = chunk
        self._parts: dict[str, BinaryIO] = {}
        self._made_dirs: set[Path] = set()

    def write_file(self, relative: str, data: bytes) -> None:
        path = self.root / relative
        if path.parent not in self._made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(path.parent)
        path.write_bytes(data)

    def append_rows(self, relative: str, header: bytes, rows: bytes) -> None:
        part = self._parts.get(relative)
        if part is None:
            folder = self.parts / relative
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "header").write_bytes(header)
            part = self._parts[relative] = (folder / f"{self.chunk:06d}").open("ab")
        part.write(rows)

    def close(self) -> None:
        for part in self._parts.values():
            part.close()
        self._parts.clear()


def join_parts(root: Path) -> None:
    """Join every shared table's parts, in chunk order, after its header; then remove the parts."""
    parts_root = root / ".parts"
    if not parts_root.exists():
        return
    for header in sorted(parts_root.rglob("header")):
        folder = header.parent
        target = root / folder.relative_to(parts_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as joined:
            joined.write(header.read_bytes())
            for part in sorted(p for p in folder.iterdir() if p.name != "header"):
                with part.open("rb") as chunk_rows:
                    while block := chunk_rows.read(1 << 20):
                        joined.write(block)
                part.unlink()
            header.unlink()
    for folder in sorted(parts_root.rglob("*"), reverse=True):
        folder.rmdir()
    parts_root.rmdir()
