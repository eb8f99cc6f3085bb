"""Rich console for command output: the terminal's width, or a wide one when piped
(so tables written to a log or a file are not squeezed to 80 columns)."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def console() -> Console:
    if sys.stdout.isatty():
        return Console()
    return Console(width=int(os.environ.get("COLUMNS", "220")), soft_wrap=False)
