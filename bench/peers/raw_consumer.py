"""Row 1 of `make bench`: the raw consumer ceiling.

confluent-kafka (librdkafka) consumer + ``json.loads`` of every value over the preloaded
input topics; no state, no commits, no output. Exits after ``--expect`` messages and prints
one JSON line: messages, the wall time of the first and of the last message.

    python bench/peers/raw_consumer.py --bootstrap 127.0.0.1:9092 --topics a,b,c --expect 60000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated")
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()

    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 4194304})
    c.subscribe(a.topics.split(","))
    n, first, loads, deadline = 0, None, json.loads, time.monotonic() + a.timeout
    try:
        while n < a.expect and time.monotonic() < deadline:
            batch = c.consume(num_messages=2000, timeout=1.0)
            for m in batch:
                if m.error():
                    continue
                if first is None:
                    first = time.time()
                loads(m.value())
                n += 1
        last = time.time()
    finally:
        c.close()
    print(json.dumps({"n": n, "first": first, "last": last}))
    sys.exit(0 if n >= a.expect else 1)


if __name__ == "__main__":
    main()
