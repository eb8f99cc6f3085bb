"""Row 4 of `make bench`: a Quix Streams peer doing hallpulse's per-hall-minute wait figure.

Exactly-once, over the same preloaded input topics as hallpulse (all three are consumed;
transactions and surveys are decoded and dropped: this figure needs tickets only):

* per visit (state, RocksDB with a changelog topic, scoped by the message key = hall_id):
  the ``issued`` time, then, at the visit's first ``called``, its wait = called − issued
  (either order of arrival); later calls (recalls, a transfer's second call) are ignored;
* per hall and minute of the call (state): count and sum of waits; every update is
  produced to ``--output`` as {hall_id, minute, count, mean_wait_s}, key = hall_id, in the
  same transaction as the state and the offsets.

Commits every 2.8 s, as Faust's default (which hallpulse and the bare Faust row use), and
once it has processed the whole input (``commit_every`` = the input's size: a checkpoint
holding every message), as the worker commits when it has read its input to the end and
bare Faust once it has processed everything; before, its figure included up to 2.8 s of
waiting for the interval (processed in 0.9 s, committed at 3.2 s on 2026-12-08). If the
interval commits first (a slower machine), the count starts again and the end waits for
the interval, as before.
Progress goes to ``--status`` like bench/peers/faust_bare.py; the harness ends the run with
SIGTERM once the group's committed offsets reach the topics' ends.

    python bench/peers/quix_waits.py --bootstrap 127.0.0.1:9092 --tickets t --transactions x \
        --surveys s --output o --group g --expect 60000 --status /tmp/s.json --state-dir /tmp/q
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from pathlib import Path

COMMIT_INTERVAL_S = 2.8  # faust-streaming's default broker_commit_interval


def write_status(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def to_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def wait_update(ev: dict, state) -> dict | None:
    """One ticket event into the per-visit and per-hall-minute state; the minute's new
    figures when this event closed a visit's first wait, else None."""
    kind = ev.get("event_type")
    if kind != "issued" and kind != "called":
        return None
    vid = ev["visit_id"]
    t = to_ms(ev["occurred_at"])
    rec = state.get(vid)
    if kind == "issued":
        if rec is None:
            state.set(vid, {"i": t})
            return None
        if "c" not in rec or "i" in rec:  # a repeat, or the visit's wait is already counted
            return None
        issued, called = t, rec["c"]
    else:
        if rec is None:  # the call arrived before the issue: keep it until the issue comes
            state.set(vid, {"c": t})
            return None
        if "i" not in rec or rec.get("d"):
            return None
        issued, called = rec["i"], t
    state.set(vid, {"i": issued, "d": 1})
    minute = called // 60_000 * 60_000
    mkey = f"m|{minute}"
    n, total = state.get(mkey, (0, 0.0))
    n, total = n + 1, total + (called - issued) / 1000
    state.set(mkey, (n, total))
    return {"hall_id": ev["hall_id"], "minute": minute, "count": n, "mean_wait_s": total / n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--tickets", required=True)
    ap.add_argument("--transactions", required=True)
    ap.add_argument("--surveys", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--status", type=Path, required=True)
    ap.add_argument("--state-dir", required=True)
    a = ap.parse_args()

    from quixstreams import Application

    app = Application(broker_address=a.bootstrap, consumer_group=a.group, auto_offset_reset="earliest",
                      processing_guarantee="exactly-once", commit_interval=COMMIT_INTERVAL_S,
                      commit_every=a.expect,
                      state_dir=a.state_dir, loglevel=os.environ.get("QUIX_LOGLEVEL", "WARNING"))
    status = {"first": None, "done": None, "n": 0}
    seen = [0]

    def count(_value) -> None:
        n = seen[0] = seen[0] + 1
        if n == 1:
            status["first"] = time.time()
            write_status(a.status, status)
        if n == a.expect:
            status.update(done=time.time(), n=n)
            write_status(a.status, status)

    out = app.topic(a.output, key_serializer="str", value_serializer="json")
    tickets = app.dataframe(app.topic(a.tickets, key_deserializer="str", value_deserializer="json"))
    tickets = tickets.update(count).apply(wait_update, stateful=True).filter(lambda v: v is not None)
    tickets.to_topic(out)
    for name in (a.transactions, a.surveys):
        app.dataframe(app.topic(name, key_deserializer="str", value_deserializer="json")).update(count)
    app.run()


if __name__ == "__main__":
    main()
