"""A fingerprint of everything the engine outputs, to show a refactor changed none of it.

Runs :class:`streams.engine.Engine` over simulated halls from a fixed instant in the past
(so the digest does not move with the calendar) and prints an md5 per run and one over
all runs, taken over a canonical serialisation of every :class:`Outcome` in order: hall,
dead letter (code, reason, topic, key, masked original), duplicate flag, table writes,
alert events and facts. The runs cover the paths a refactor of the engine could break:

* ``ordered``: the simulator's stream as it is, one partition (like bench_stream.py).
* ``hostile``: a stream shuffled within minutes, some messages held back beyond the grace
  (late), re-sent (duplicates) or re-sent with other content (conflicts), the simulator's
  bad events and the hostile catalogue of tests/hostile.py, two partitions, ticks
  interleaved, a wall clock that makes the tail "future", tight alert rules (so queue
  alerts open, escalate and close often), and a restart in the middle via
  :meth:`Engine.restore` from the table writes so far. The halls' live snapshots are
  fingerprinted along the way.
* ``days``: two days with a night between, short retention (purges), ticks past closing.

    .venv/bin/python bench/engine_digest.py            # all runs, then the total digest
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hallpulse.config import Settings  # noqa: E402
from hallpulse.simulator import generate  # noqa: E402
from schemas.catalogue import load_catalogue  # noqa: E402
from streams.alerts import AlertRules, load_alert_rules  # noqa: E402
from streams.engine import Engine, Outcome  # noqa: E402
from tests import hostile  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)  # a Monday, long past
MINUTE = 60_000

# Thresholds low enough that the simulator's queues open, escalate and close alerts.
TIGHT = {"warning_waiting": 4, "critical_waiting": 8, "warning_longest_wait_min": 4,
         "critical_longest_wait_min": 9, "warning_estimated_wait_min": 5, "close_after_min": 1,
         "complaint_spike_count": 1, "complaint_spike_critical_on_escalated": True, "silent_after_min": 6}


def _json(x) -> str:
    """Order-preserving JSON: key order, int vs float and bool are part of the output."""
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"),
                      default=lambda o: o.hex() if isinstance(o, bytes) else repr(o))


def outcome_line(out: Outcome) -> str:
    dl = out.dead_letter
    dead = None if dl is None else [dl.reason_code, dl.reason, dl.topic, dl.partition, dl.offset, dl.key,
                                    dl.original, dl.attempts, dl.original_size]
    return _json([out.hall_id, dead, out.duplicate, out.writes,
                  [a.model_dump_json() for a in out.alerts], out.facts])


class Digest:
    """An md5 over the lines fed to it, and a few counts to show what the run exercised."""

    def __init__(self):
        self.md5 = hashlib.md5()
        self.counts = {"outcomes": 0, "alerts": 0, "dead": 0, "dup": 0, "snapshots": 0}

    def outcome(self, out: Outcome) -> None:
        self.md5.update(outcome_line(out).encode() + b"\n")
        self.counts["outcomes"] += 1
        self.counts["alerts"] += len(out.alerts)
        self.counts["dead"] += out.dead_letter is not None
        self.counts["dup"] += out.duplicate

    def line(self, x) -> None:
        self.md5.update(_json(x).encode() + b"\n")

    def snapshots(self, engine: Engine, halls=None) -> None:
        for hall_id in sorted(halls or engine.books):
            if hall_id in engine.books:
                self.line(engine.books[hall_id].snapshot())
                self.counts["snapshots"] += 1

    def engine_state(self, engine: Engine) -> None:
        self.line([engine.counts, sorted((k, s.to_dict()) for k, s in engine.alert_states.items())])


def _messages(catalogue, halls: int, minutes: float, seed: int, bad_share: float = 0.0):
    return [(m.topic_kind, m.key, m.value)
            for m in generate(catalogue, halls=halls, minutes=minutes, seed=seed, start=START, bad_share=bad_share)]


def _event_ms(raw: bytes) -> int | None:
    try:
        d = json.loads(raw)
        t = d.get("occurred_at") or d.get("completed_at") or d.get("answered_at")
        return int(datetime.fromisoformat(t).timestamp() * 1000)
    except Exception:
        return None


def run_ordered(catalogue, rules: AlertRules, halls: int, minutes: float, seed: int) -> Digest:
    d = Digest()
    engine = Engine(catalogue, rules)
    for kind, _, raw in _messages(catalogue, halls, minutes, seed):
        d.outcome(engine.process(kind, raw, partition=0))
    d.engine_state(engine)
    d.snapshots(engine)
    return d


def _perturb(msgs, rng: random.Random, catalogue) -> list[tuple[str, str, bytes]]:
    """Shuffle within a few minutes' worth of messages; hold some back far (late), re-send
    some (duplicates, a few with other content), and mix in the hostile catalogue."""
    keyed = []
    for i, (kind, key, raw) in enumerate(msgs):
        r = rng.random()
        pos = i + rng.uniform(0, 40)
        if r < 0.02:
            pos = i + rng.uniform(300, 2500)  # beyond the grace, mostly
        keyed.append((pos, kind, key, raw))
        if 0.02 <= r < 0.04:
            keyed.append((i + rng.uniform(0, 400), kind, key, raw))
        elif 0.04 <= r < 0.045 and raw.startswith(b"{"):
            try:
                other = json.loads(raw)
            except ValueError:
                continue
            if "staff_id" in other:
                other["staff_id"] = "S-OTHER"
                keyed.append((i + rng.uniform(1, 200), kind, key, json.dumps(other).encode()))
    n = len(msgs)
    for j, hall in enumerate(sorted({k for _, k, _ in msgs if k in catalogue})[:3]):
        at = START + timedelta(minutes=60 + 40 * j)
        for h in hostile.catalogue(hall, at, prefix=f"hx{j}", huge_bytes=300_000):
            keyed.append((n * (60 + 40 * j) / 300 + rng.uniform(0, 30), h.topic_kind, h.key, h.value))
    keyed.sort(key=lambda x: x[0])
    return [(kind, key, raw) for _, kind, key, raw in keyed]


def _apply_writes(tables: dict[str, dict], out: Outcome) -> None:
    for table, key, value in out.writes:
        if value is None:
            tables[table].pop(key, None)
        else:
            tables[table][key] = json.loads(json.dumps(value))  # as the table stores it


def run_hostile(catalogue, rules: AlertRules, halls: int, minutes: float, seed: int) -> Digest:
    d = Digest()
    rng = random.Random(seed)
    msgs = _perturb(_messages(catalogue, halls, minutes, seed, bad_share=0.02), rng, catalogue)
    end_ms = int((START + timedelta(minutes=minutes)).timestamp() * 1000)
    wall = lambda: end_ms - 25 * MINUTE  # noqa: E731  the tail is "future"
    part = lambda key: zlib.crc32(key.encode()) % 2  # noqa: E731
    engine = Engine(catalogue, rules, wall_ms=wall, purge_after_events=300)
    tables: dict[str, dict] = {"visits": {}, "surveys": {}, "alert_states": {}}
    latest = 0
    watched = sorted({k for _, k, _ in msgs if k in catalogue})[:2]
    for i, (kind, key, raw) in enumerate(msgs):
        if i == len(msgs) // 2:  # a restart: the engine rebuilt from its tables
            d.engine_state(engine)
            engine = Engine(catalogue, rules, wall_ms=wall, purge_after_events=300)
            engine.restore(list(tables["visits"].items()), list(tables["surveys"].items()),
                           list(tables["alert_states"].items()))
            d.engine_state(engine)
        out = engine.process(kind, raw, partition=part(key), offset=i, key=key)
        d.outcome(out)
        _apply_writes(tables, out)
        t = _event_ms(raw)
        if t is not None and t <= wall():
            latest = max(latest, t)
        if i % 37 == 36 and latest:
            p = rng.choice([0, 1, None])
            tick = engine.tick(p, latest + rng.choice([0, 20_000, 3 * MINUTE, 12 * MINUTE, 40 * MINUTE]))
            d.outcome(tick)
            _apply_writes(tables, tick)
        if i % 1500 == 0:
            d.snapshots(engine, watched)
    for m in range(0, 300, 3):  # the halls fall silent: feed alerts, expiry, the day's end
        out = engine.tick(m % 2, latest + m * MINUTE)
        d.outcome(out)
    d.engine_state(engine)
    d.snapshots(engine)
    return d


def run_days(catalogue, rules: AlertRules, halls: int, seed: int) -> Digest:
    d = Digest()
    engine = Engine(catalogue, rules, retention_h=3, purge_after_events=200)
    latest = 0
    for i, (kind, _, raw) in enumerate(_messages(catalogue, halls, 30 * 60, seed)):
        d.outcome(engine.process(kind, raw, partition=0))
        latest = max(latest, _event_ms(raw) or 0)
        if i % 101 == 100:
            d.outcome(engine.tick(0, latest + 5 * MINUTE))
    d.engine_state(engine)
    d.snapshots(engine)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run only this run (ordered, hostile, hostile-default, days)")
    a = ap.parse_args()
    settings = Settings()
    catalogue = load_catalogue(settings.catalogue_file)
    rules = load_alert_rules(settings.alert_rules_file)
    tight = AlertRules.model_validate({"default": {**rules.default.model_dump(), **TIGHT}})
    runs = {
        "ordered": lambda: run_ordered(catalogue, rules, 12, 600, 1),
        "ordered-tight": lambda: run_ordered(catalogue, tight, 6, 600, 4),
        "hostile": lambda: run_hostile(catalogue, tight, 8, 300, 2),
        "hostile-default": lambda: run_hostile(catalogue, rules, 10, 420, 3),
        "days": lambda: run_days(catalogue, tight, 4, 5),
    }
    total = hashlib.md5()
    for name, run in runs.items():
        if a.only and name != a.only:
            continue
        t0 = time.perf_counter()
        d = run()
        digest = d.md5.hexdigest()
        total.update(f"{name}:{digest}\n".encode())
        print(f"{name:16} {digest}  {time.perf_counter() - t0:5.1f} s  {d.counts}", flush=True)
    print(f"total            {total.hexdigest()}")


if __name__ == "__main__":
    main()
