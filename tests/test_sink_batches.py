"""How the sink cuts its input into writes (``sinks.sink.gather``): large batches under a
backlog, and what came written at once when the topics are caught up, never more often than
``batch_min_seconds``. Driven by a scripted poll and a clock that each poll moves on."""

from __future__ import annotations

from sinks.sink import gather

POLL_S = 0.25  # exact in binary: the clock adds up without rounding


class Feed:
    """``poll()`` returns the next of ``script`` (records per poll; 0: nothing) and moves the
    clock on by one poll; past the script, nothing."""

    def __init__(self, script: list[int]):
        self.script, self.now, self.polls = list(script), 0.0, 0

    def clock(self) -> float:
        return self.now

    def poll(self) -> dict:
        self.now += POLL_S
        self.polls += 1
        n = self.script.pop(0) if self.script else 0
        return {("hall.facts", 0): [f"r{self.polls}.{i}" for i in range(n)]} if n else {}


def cut(script: list[int], *, seconds=2.0, min_seconds=0.5, max_messages=20_000,
        last_write: float | None = None) -> tuple[list, Feed]:
    feed = Feed(script)
    batch = gather(feed.poll, seconds=seconds, min_seconds=min_seconds, max_messages=max_messages,
                   stopping=lambda: False, clock=feed.clock, last_write=last_write)
    return batch, feed


def test_a_backlog_is_gathered_for_the_whole_batch_time():
    batch, feed = cut([500] * 50)
    assert len(batch) == 500 * 8 and feed.now == 2.0  # eight polls of 0.25 s: the whole 2 s


def test_a_backlog_stops_at_the_most_messages_a_batch_takes():
    batch, feed = cut([5000] * 50, max_messages=20_000)
    assert len(batch) == 20_000 and feed.polls == 4


def test_caught_up_what_came_is_written_at_once():
    """A worker's commit made a burst visible, then nothing: written after the first empty
    poll, not at the end of the 2 s."""
    batch, feed = cut([300, 200, 0, 400])
    assert len(batch) == 500 and feed.now == 3 * POLL_S  # the empty poll ended it at 0.75 s


def test_caught_up_early_the_batch_still_waits_the_least_time():
    """An empty poll before ``batch_min_seconds`` does not end the batch: writes stay at
    least that far apart, also when facts trickle in."""
    batch, feed = cut([10, 0, 10, 0, 0], min_seconds=0.7)
    assert len(batch) == 20 and feed.polls == 4 and feed.now == 1.0  # the empty poll at 0.5 s did not end it


def test_after_a_long_write_what_came_meanwhile_is_written_at_the_first_empty_poll():
    """The previous write began 1.9 s ago (the clock starts at 0 here): the spacing is kept
    already, so the facts a worker's last commit made visible during that write go to the
    store at once rather than another ``batch_min_seconds`` later (`make bench` row 3a)."""
    batch, feed = cut([800, 0, 0, 0], last_write=-1.9)
    assert len(batch) == 800 and feed.polls == 2 and feed.now == 2 * POLL_S


def test_after_a_short_write_the_spacing_counts_from_its_start():
    """Writes stay ``batch_min_seconds`` (0.7 here) apart, counted from the start of the
    previous write, not of this batch."""
    batch, feed = cut([5, 0, 0, 0], min_seconds=0.7, last_write=-0.3)
    assert len(batch) == 5 and feed.polls == 2 and feed.now == 0.5  # 0.8 s after that write began

    batch, feed = cut([5, 0, 0, 0], min_seconds=0.7, last_write=-0.1)
    assert len(batch) == 5 and feed.polls == 3 and feed.now == 0.75  # at 0.5 s only 0.6 s had passed


def test_nothing_to_read_waits_out_the_batch_time():
    batch, feed = cut([])
    assert batch == [] and feed.now >= 2.0


def test_records_keep_their_partition_and_order():
    batch, _ = cut([2, 1, 0])
    assert [r for _, r in batch] == ["r1.0", "r1.1", "r2.0"]
    assert {tp for tp, _ in batch} == {("hall.facts", 0)}
