"""What a batch of events leaves to send: the engine's outcomes gathered per partition.

The worker reads its input in batches (``stream.take_events``) and applies the engine's
:class:`~streams.engine.Outcome` of every event of a batch at once: a table key written
several times in a batch is sent to its changelog once, with its last value; a hall's facts
leave as one message; the dead-letter counts are summed. Every output names the input
partition it belongs to, because under exactly-once the partition of a message chooses the
Kafka transaction it commits in, and a batch may hold events of several partitions.

Plain Python, so that the order and the merging are tested without Kafka.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from schemas.events import AlertEvent


@dataclass
class OutcomeBatch:
    # (table, key) -> (partition, value | None = delete); dict order: first write of the key
    writes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    alerts: list[tuple[int, AlertEvent]] = field(default_factory=list)
    facts: dict[str, tuple[int, list[dict]]] = field(default_factory=dict)   # hall -> (partition, facts)
    dead_letters: list[tuple[int, Any]] = field(default_factory=list)       # (partition, DeadLetter)
    dead_counts: Counter = field(default_factory=Counter)                   # "reason|partition" -> n
    events: int = 0

    def add(self, partition: int, out) -> None:
        """Gather one event's outcome (in the order the events were read)."""
        self.events += 1
        for table, key, value in out.writes:
            self.writes[(table, key)] = (partition, value)  # the last write decides
        self.alerts.extend((partition, a) for a in out.alerts)
        for f in out.facts:
            hall_id = f["h"] if "h" in f else f["r"]["h"]
            self.facts.setdefault(hall_id, (partition, []))[1].append(f)
        if out.dead_letter is not None:
            self.dead_letters.append((partition, out.dead_letter))
            # one key per partition: a table key must only be written from one partition,
            # or recovery keeps whichever partition's record it reads last
            self.dead_counts[f"{out.dead_letter.reason_code}|{partition}"] += 1

    def table_writes(self) -> Iterator[tuple[str, str, int, Any]]:
        """``(table, key, partition, value | None)``, each key once."""
        for (table, key), (partition, value) in self.writes.items():
            yield table, key, partition, value
