"""Fault trials (issue 10): every test here is a trial on the real broker and real worker
and sink processes, and adds its row to the table printed at the end."""

from __future__ import annotations

import pytest

from tests.chaos.trials import TRIALS, write


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/chaos/" in str(item.fspath):
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter):
    if TRIALS:
        terminalreporter.write_sep("=", "chaos trials")
        terminalreporter.write_line(write(TRIALS))
