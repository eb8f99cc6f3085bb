"""Named SQL files under ``sinks/queries/``: SQL lives in .sql files, loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources


def strip_comments(sql: str) -> str:
    """Drop ``--`` comment lines (the headers of our .sql files)."""
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()


@cache
def load_sql(name: str, package: str = "sinks", folder: str = "queries") -> str:
    """The text of ``<package>/<folder>/<name>.sql`` without its comment lines."""
    return strip_comments((resources.files(package) / folder / f"{name}.sql").read_text(encoding="utf-8"))
