"""What the migrations that stop storing some parameters' rows share (the loader skips modules named with "_")."""

from collections.abc import Callable
from typing import Any

from federation.search.hashing import hash64


def rows_dropper(keys: list[tuple[str, str]], tables: tuple[str, ...]) -> Callable[[Any, Any], None]:
    """A RunPython function deleting the index rows of `keys` ((type, code and suffix) each) from `tables`."""
    hashed = [hash64(resource_type, code) for resource_type, code in keys]

    def drop_rows(apps: Any, schema_editor: Any) -> None:
        with schema_editor.connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DELETE FROM {table} WHERE param = ANY(%s)", [hashed])  # noqa: S608 (fixed names)

    return drop_rows
