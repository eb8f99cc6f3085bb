"""Row 2 of `make bench`: bare Faust.

A minimal faust-streaming app, exactly-once, over the preloaded input topics: one agent
decodes every value (``json.loads``) and counts events per hall in a plain dict. No
tables, no output topics, no web server; Faust's defaults otherwise (commit every 2.8 s),
but it commits as soon as it has processed the whole input, as the hallpulse worker does
when it has read its input to the end (``streams/faust_fixes.py`` #12): otherwise its
figure depends on where its last event falls between two commits (4.6 or 7.4 s for the
same input in two runs of 2026-12-08).
The run ends when the harness sees the group's committed offsets reach the topics' ends
and stops this process with SIGTERM.

Progress goes to ``--status`` (JSON): the wall time of the first event, and of the moment
``--expect`` events were processed.

    python bench/peers/faust_bare.py --bootstrap 127.0.0.1:9092 --topics a,b,c --group g \
        --expect 60000 --status /tmp/s.json --datadir /tmp/faust
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path


def write_status(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated")
    ap.add_argument("--group", required=True, help="Faust app id = consumer group")
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--status", type=Path, required=True)
    ap.add_argument("--datadir", required=True)
    ap.add_argument("--partitions", type=int, default=4)
    a = ap.parse_args()

    import faust

    app = faust.App(a.group, broker=f"kafka://{a.bootstrap}", store="memory://",
                    processing_guarantee="exactly_once", topic_partitions=a.partitions,
                    topic_allow_declare=False, web_enabled=False, datadir=a.datadir,
                    consumer_auto_offset_reset="earliest", autodiscover=False)
    topic = app.topic(*a.topics.split(","), key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")
    per_hall: Counter = Counter()
    status = {"first": None, "done": None, "n": 0}

    @app.agent(topic)
    async def count(stream):
        n = 0
        loads = json.loads
        async for value in stream:
            if n == 0:
                status["first"] = time.time()
                write_status(a.status, status)
            per_hall[loads(value).get("hall_id")] += 1
            n += 1
            if n == a.expect:
                status.update(done=time.time(), n=n, halls=len(per_hall))
                write_status(a.status, status)

    @app.timer(interval=0.1)
    async def commit_at_the_end():
        if status["done"]:  # the last event is acked once the stream asks for the next one
            await app.consumer.commit()

    from faust.worker import Worker

    Worker(app, loglevel="warn", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
