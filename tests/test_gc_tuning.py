"""The worker and the sink run Python's garbage collector less often ([gc_threshold]):
collections walking their large, cycle-free state cost a fifth of their time."""

from __future__ import annotations

import gc

import pytest

from hallpulse.config import Settings
from hallpulse.gc_tuning import tune_gc


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_the_threshold_is_applied_and_what_lives_at_start_is_frozen(restore_gc):
    older = gc.get_threshold()[1:]
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, *older)
    assert gc.get_freeze_count() > 0


def test_zero_leaves_pythons_defaults(restore_gc):
    gc.set_threshold(700, 10, 10)
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_the_processes_are_tuned_by_default_and_the_setting_comes_from_the_environment(monkeypatch):
    assert Settings().gc_threshold == 50_000
    monkeypatch.setenv("HALLPULSE__GC_THRESHOLD", "0")
    assert Settings().gc_threshold == 0


def test_both_long_running_commands_apply_it():
    """The worker's and the sink's commands call it (the processes bench/run.py measures)."""
    import inspect

    from hallpulse.commands import sink, worker

    for command in (worker.worker, sink.sink):
        assert "tune_gc(settings.gc_threshold)" in inspect.getsource(command.callback)
