"""What every fault trial needs: a steady feed that survives the faults it meets, the
events as the broker holds them, and the reckoning of the store against the independent
recomputation (tests/month/oracle.py, written from domain.md, sharing no code with the
pipeline).

The reckoning starts from the input topics read back after the trial, not from the list
the feed meant to send: a producer that resent a message after a broker outage sent it
twice, and the oracle must judge what the broker really holds (a repeated ``event_id``
counts once, domain.md §2).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hallpulse.config import Settings
from tests.month import oracle
from tests.pipeline import alerts_well_formed, caught_up, read_topic, wait_for

# The counts a lost or doubled fact changes, per hall and day (category 'all').
COUNTED = ("issued", "called", "transactions", "csat_n", "audit_n", "complaints", "visits_served", "abandoned",
           "transfers")
DAY_SQL = "SELECT * EXCEPT (version) FROM day_metrics FINAL"
ALERTS_SQL = ("SELECT alert_id, action, hall_id, category, rule, level, occurred_at, opened_at "
              "FROM alerts FINAL ORDER BY hall_id, occurred_at")


@dataclass(eq=False)
class SteadyFeed(threading.Thread):
    """Sends ``messages`` ((topic_kind, key, value) or FeedMessage) at ``rate`` per second,
    in order, as a hall's systems would: a message the broker did not acknowledge is sent
    again (in order, after a pause) until it is, so a broker outage delays the feed and
    never thins it."""

    settings: Settings
    messages: list
    rate: float
    sent: int = 0
    resent: int = 0
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(name="steady-feed", daemon=True)

    def run(self) -> None:
        from kafka import KafkaProducer

        try:
            producer = KafkaProducer(bootstrap_servers=self.settings.kafka.servers, acks="all", linger_ms=10,
                                     batch_size=128 * 1024, retries=5, request_timeout_ms=5000,
                                     max_block_ms=10_000, reconnect_backoff_max_ms=2000)
            t0 = time.monotonic()
            chunk = max(1, int(self.rate / 20))
            for i in range(0, len(self.messages), chunk):
                part = self.messages[i:i + chunk]
                self._send(producer, part)
                self.sent += len(part)
                ahead = t0 + self.sent / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            producer.close(timeout=30)
        except BaseException as e:  # noqa: BLE001 - reported by the trial
            self.error = e
        finally:
            self.done.set()

    def _send(self, producer, part: list) -> None:
        pending = list(part)
        while pending:
            futures = []
            for m in pending:
                kind, key, value = oracle._parts(m)
                try:
                    futures.append(producer.send(getattr(self.settings.topics, kind), key=key.encode(), value=value))
                except Exception:  # the buffer is full or the broker unknown: retry this one and the rest
                    break
            try:
                producer.flush(timeout=30)
            except Exception:
                pass
            ok = 0
            for f in futures:
                if f.is_done and f.succeeded():
                    ok += 1
                else:
                    break
            if ok < len(pending):
                self.resent += len(pending) - ok
                time.sleep(1.0)
            pending = pending[ok:]


def input_messages(settings: Settings) -> list[tuple[str, str, bytes]]:
    """Every input message as the broker holds it, each partition in its order (which is
    each hall's order on each topic: all the oracle's rulings need)."""
    from kafka import KafkaConsumer

    out = []
    for kind in ("tickets", "transactions", "surveys"):
        c = KafkaConsumer(getattr(settings.topics, kind), bootstrap_servers=settings.kafka.servers,
                          auto_offset_reset="earliest", consumer_timeout_ms=5000, enable_auto_commit=False,
                          max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
        try:
            by_part: dict[int, list] = {}
            for m in c:
                by_part.setdefault(m.partition, []).append((m.offset, kind, (m.key or b"").decode(), m.value))
        finally:
            c.close()
        for p in sorted(by_part):
            out += [(k, key, v) for _, k, key, v in sorted(by_part[p], key=lambda r: r[0])]
    return out


@dataclass
class Reckoning:
    lost: int
    doubled: int
    problems: list[str]
    facts: int                  # the counted facts the oracle expects (category 'all')
    alerts: int                 # alert events on the topic
    alert_problems: list[str]

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.problems or self.alert_problems)

    def summary(self) -> str:
        first = "; ".join((self.problems + self.alert_problems)[:8])
        return (f"{self.facts} counted facts, {self.alerts} alert events; lost {self.lost}, doubled {self.doubled}"
                + (f"; {first}" if first else ""))


def reckon(settings: Settings, store, *, now: datetime | None = None) -> Reckoning:
    """The store's day figures against the oracle's over what the input topics hold, and
    the stored alerts against the alerts topic (read_committed): every alert event stored
    once, each alert opened once and closed at most once."""
    now = now or datetime.now(timezone.utc)
    want = oracle.day_figures(input_messages(settings), now=now)
    got_rows = store.query(DAY_SQL).dicts()
    problems = oracle.compare_days(want, got_rows)
    got = oracle._row_map(got_rows)
    lost = doubled = facts = 0
    for key in set(want) | set(got):
        if key[2] != "all":
            continue
        o, s = want.get(key, {}), got.get(key, {})
        for f in COUNTED:
            ov, sv = int(o.get(f, 0)), int(s.get(f, 0) or 0)
            facts += ov
            lost += max(0, ov - sv)
            doubled += max(0, sv - ov)

    topic = [json.loads(v) for v in read_topic(settings, settings.topics.alerts, timeout_ms=5000)]
    alert_problems = alerts_well_formed([dict(a) for a in topic])

    def key(a: dict) -> tuple:
        at = a["occurred_at"]
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        return a["alert_id"], a["action"], at.astimezone(timezone.utc).replace(tzinfo=None)
    on_topic = Counter(key(a) for a in topic)
    stored = Counter(key(a) for a in store.query(ALERTS_SQL).dicts())
    missing, extra = on_topic - stored, stored - on_topic
    if missing:
        lost += sum(missing.values())
        alert_problems.append(f"{sum(missing.values())} alert events on the topic are not stored, e.g. "
                              f"{next(iter(missing))}")
    if extra:
        doubled += sum(extra.values())
        alert_problems.append(f"{sum(extra.values())} stored alert events are not on the topic, e.g. {next(iter(extra))}")
    return Reckoning(lost, doubled, problems, facts, len(topic), alert_problems)


def restores_short_of_changelogs(w) -> tuple[list[str], list[str]]:
    """Each restart of the worker against the changelogs it recovered from: the keys of
    every table at its first batch (log ``worker.restored``) must be the committed
    changelog folded up to where the recovery read it (log ``worker.tables_recovered``).
    A table that comes back short (the afternoon of 2026-12-07 saw the open alerts come
    back as none, three times) is found here at the restart it happened, not only when a
    later breach of the same queue opens a second alert. Each changelog sits in one
    segment of the test's broker (1 GiB), so nothing of it is compacted away. Returns the
    problems, and each restore's keys as checked (``visits 4650, surveys 812, ...``)."""
    from kafka import KafkaConsumer

    app_id = w.settings.worker.app_id
    records: dict[str, dict[int, list[tuple[int, str, bool]]]] = {}
    problems: list[str] = []
    checked: list[str] = []
    recovered: dict | None = None
    for line in w.log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "worker.tables_recovered":
            recovered = entry["changelogs"]
        elif entry.get("event") == "worker.restored" and recovered is not None:
            checked.append(", ".join(f"{table} {n}" for table, n in entry["table_keys"].items()))
            for table, n in entry["table_keys"].items():
                if table not in records:
                    records[table] = {}
                    c = KafkaConsumer(f"{app_id}-{table}-changelog", bootstrap_servers=w.settings.kafka.servers,
                                      auto_offset_reset="earliest", consumer_timeout_ms=3000,
                                      isolation_level="read_committed")
                    for m in c:
                        records[table].setdefault(m.partition, []).append((m.offset, m.key, m.value is None))
                    c.close()
                keys: set = set()
                for partition, recs in records[table].items():
                    end = recovered.get(f"{table}/{partition}", [None, None])[1]
                    for offset, key, deleted in recs:
                        if end is not None and offset <= end:
                            (keys.discard if deleted else keys.add)(key)
                if n != len(keys):
                    problems.append(f"restore at {entry['timestamp']}: {table} had {n} keys, its committed "
                                    f"changelog up to the recovery's ends {len(keys)}")
            recovered = None
    return problems, checked


def kill_moments(seed: int, n: int, start: float, end: float) -> list[float]:
    """``n`` random moments (seconds into the feed) between ``start`` and ``end``, at least
    a tenth of the span apart, from ``seed``."""
    rng = random.Random(seed)
    span = end - start
    while True:
        ts = sorted(rng.uniform(start, end) for _ in range(n))
        if all(b - a >= span / 10 for a, b in zip(ts, ts[1:])):
            return ts


def describe(values: list[float], unit: str = "s") -> str:
    return ", ".join(f"{v:.1f} {unit}" for v in values)


def as_dicts(rows: Any) -> list[dict]:
    return rows.dicts() if hasattr(rows, "dicts") else list(rows)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def freeze(path: Path, on: bool = True) -> None:
    """Make every directory under ``path`` immutable (``chattr +i``) or writable again: the
    store can still read its parts, and every write it tries is refused by the kernel
    (EPERM), as a failing or read-only volume refuses it."""
    dirs = [str(p) for p in [path, *path.rglob("*")] if p.is_dir() and not p.is_symlink()]
    for i in range(0, len(dirs), 200):
        subprocess.run(["chattr", "+i" if on else "-i", *dirs[i:i + 200]], check=True, capture_output=True)


def fill(path: Path, leave_bytes: int = 0) -> Path:
    """Fill the file system of ``path`` with a ballast file until ``leave_bytes`` remain."""
    ballast = path / "ballast"
    size = shutil.disk_usage(path).free - leave_bytes
    with open(ballast, "wb") as fh:
        while size > 0:
            try:
                os.posix_fallocate(fh.fileno(), 0, size)
                break
            except OSError:  # the file system's own bookkeeping needs a few blocks
                size -= 256 * 1024
    return ballast


def customer_data_sweep(w, row) -> None:
    """Part 6 after a trial: no clear mobile or ID number in the store, the logs, the dead
    letters or the API answers of this pipeline (tests/chaos/pii_sweep.py)."""
    from tests.chaos.pii_sweep import Sweep, sweep_all

    sweep = Sweep()
    findings = sweep_all(w, [w.log_path, w.sink.log_path], None, sweep=sweep)
    row.notes.append(f"customer data sweep: {len(findings)} clear numbers in {sweep.summary()}")
    assert not findings, "\n".join(findings[:40])


@contextmanager
def judged(row, w):
    """Run a trial's body: its row passes when the body ends, fails (with the processes'
    last log lines printed) when it raises; the processes stop either way."""
    try:
        yield
        row.passed = True
    except BaseException:
        row.passed = False
        print(w.log_tail())
        raise
    finally:
        w.stop()


def settle_and_reckon(w, f: SteadyFeed, row, *, note: str = "") -> Reckoning:
    """The end of a trial: the feed sent, every input committed and stored, the store
    reckoned against the recomputation (nothing lost or doubled), the customer data swept."""
    f.done.wait(1800)
    assert f.error is None, f"the feed failed: {f.error!r}"
    wait_for(lambda: caught_up(w.settings, w.settings.worker.app_id), 900, "the worker to catch up", interval=2)
    w.wait_flushed(timeout=300)
    r = reckon(w.settings, w.store())
    row.lost, row.doubled = r.lost, r.doubled
    row.notes.append(r.summary() + note)
    assert r.clean, r.summary() + "\n" + "\n".join((r.problems + r.alert_problems)[:30])
    customer_data_sweep(w, row)
    return r
