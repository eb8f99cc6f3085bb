"""Named SQL files under ``sinks/queries/``: SQL lives in .sql files, loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_sql(name: str, package: str = "sinks", folder: str = "queries") -> str:
    """The text of ``<package>/<folder>/<name>.sql`` without its comment lines."""
    text = (resources.files(package) / folder / f"{name}.sql").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()
