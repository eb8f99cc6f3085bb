"""A restart whose changelog records take a while to reach the recovery must still restore
every table in full (faust_fixes #11).

Under exactly-once Faust ends a recovery early when its changelog queue has been empty for
two polls and the consumer's *position* has passed a partition's end: it takes the rest for
aborted transactions and jumps there. The position moves when the consumer returns a
fetch, before the fetcher has handed the records to the queue; a jump in between skipped
them. On a loaded machine that window is real (the chaos trial "SIGKILL ×3" once restored
the surveys and the open alerts as empty while the changelogs held 377 and 6 keys, the large
visits table whole). Here the window is made wide on purpose: the restarted worker hands
its first fetch of changelog records over 1.5 s late (a ``sitecustomize`` module in the
worker's path), longer than the two polls.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.chaos.harness import restores_short_of_changelogs
from tests.events import Maker, at
from tests.pipeline import Producer, WorkerProcess, wait_for, worker_env
from tests.test_engine_scenarios import scenario
from tests.test_pipeline_integration import alert_scenario, on_partition

pytestmark = pytest.mark.integration

SLOW_HANDOVER = textwrap.dedent("""
    import asyncio, os
    from streams import faust_fixes

    _deliver, _slowed = faust_fixes._deliver, []

    async def _late(callback, messages):
        if not _slowed and any(m.topic.endswith("-changelog") for m in messages):
            _slowed.append(len(messages))
            await asyncio.sleep(float(os.environ["HP_TEST_CHANGELOG_DELAY_S"]))
        await _deliver(callback, messages)

    faust_fixes._deliver = _late
""")


def events() -> list[tuple[str, bytes]]:
    """Visits, surveys and open alerts on both partitions."""
    ev = scenario() + alert_scenario()
    for partition in (0, 1):
        mk = Maker(on_partition(partition, "JS-NJ"), series="r")  # beside scenario()'s own
        ev += [mk.survey(at("10:30", seconds=i), 3 + i % 3) for i in range(8)]
        ev += [mk.ticket("issued", f"P{partition}{i:02d}", at("10:40", seconds=i)) for i in range(20)]
    return ev


def test_a_restart_whose_changelog_records_arrive_late_restores_every_table(kafka_bootstrap, tmp_path, monkeypatch):
    var = tmp_path / "var"
    var.mkdir()
    w = WorkerProcess(worker_env(kafka_bootstrap, var), var, tmp_path / "worker.log")
    try:
        w.start()
        producer = Producer(w.settings)
        sent = producer.send(events())
        w.wait_processed(sent)
        wait_for(w.committed_all, 60, "the worker to commit every input message", interval=0.5)
        w.kill()

        hook = tmp_path / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(SLOW_HANDOVER)
        monkeypatch.setenv("PYTHONPATH", str(hook))
        monkeypatch.setenv("HP_TEST_CHANGELOG_DELAY_S", "1.5")
        w.start()
        wait_for(lambda: w.stats()["recovered"], 60, "the restarted worker to restore its tables", interval=0.2)
        n = producer.send(events())  # a whole restore reads them as duplicates; the first batch logs the restore
        w.wait_processed(n, 60)
        short, checked = restores_short_of_changelogs(w)
        assert len(checked) == 2, checked  # the first start (empty) and the restart
        assert not short, "\n".join(short + checked)
        assert w.stats()["engine"]["duplicates"] == n, f"a restored table was short: {w.stats()['engine']}"
        producer.close()
    except BaseException:
        print(w.log_tail(120))
        raise
    finally:
        w.stop()
