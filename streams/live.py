"""Pushing a hall's live figures to the lobby pages that watch it (server-sent events).

The agent calls :meth:`HallSignals.notify` after each batch it has processed, with the
halls the batch touched (or ``None`` after a tick: time passing changes every hall's
waits); each subscriber of those halls is woken. A subscriber is one open
``GET /api/halls/{id}/events`` stream (streams/web.py): woken, it renders the hall's
``/now`` figures and sends them when they differ from what it sent last.

Bounded, because the streams share the worker's event loop with event processing:

* at most ``max_subscribers`` streams in the whole worker; one more is refused (the page
  falls back to polling);
* a wake-up is a flag, not a queue of changes: a subscriber that is slow to take its
  wake-ups holds one pending flag at most, and sends the latest figures when it gets to
  them, never a backlog;
* a subscriber whose client does not take a message within ``write_timeout_s`` is
  dropped by the stream (see ``streams/web.py``).

Plain asyncio, no Faust: unit-tested in tests/test_live.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable


class Subscriber:
    """One stream's wake-up flag for one hall."""

    __slots__ = ("hall_id", "_event")

    def __init__(self, hall_id: str):
        self.hall_id = hall_id
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken within ``timeout`` seconds (the flag is cleared), else False."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        self._event.clear()
        return True


class HallSignals:
    def __init__(self, max_subscribers: int):
        self.max_subscribers = max_subscribers
        self._by_hall: dict[str, set[Subscriber]] = {}
        self.refused = 0
        self.dropped = 0
        self.sent = 0
        self.closed = False

    @property
    def count(self) -> int:
        return sum(len(s) for s in self._by_hall.values())

    def subscribe(self, hall_id: str) -> Subscriber | None:
        """A new subscriber of ``hall_id``, or None at the limit (or once closed)."""
        if self.closed or self.count >= self.max_subscribers:
            self.refused += 1
            return None
        sub = Subscriber(hall_id)
        self._by_hall.setdefault(hall_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._by_hall.get(sub.hall_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_hall[sub.hall_id]

    def notify(self, hall_ids: Iterable[str] | None) -> int:
        """Wake the subscribers of ``hall_ids`` (all of them for None); returns how many."""
        if hall_ids is None:
            groups = list(self._by_hall.values())
        else:
            groups = [self._by_hall[h] for h in set(hall_ids) if h in self._by_hall]
        n = 0
        for subs in groups:
            for sub in subs:
                sub.wake()
                n += 1
        return n

    def close(self) -> None:
        """The worker is stopping: every stream ends (it would hold the web server's
        shutdown otherwise), and no new one starts."""
        self.closed = True
        self.notify(None)

    def stats(self) -> dict:
        return {"subscribers": self.count, "max_subscribers": self.max_subscribers, "refused": self.refused,
                "dropped": self.dropped, "messages_sent": self.sent}


# ---- the stream (aiohttp) --------------------------------------------------------------

def sse(event: str | None, data: str | None = None, *, retry_ms: int | None = None) -> bytes:
    """One server-sent event: ``data`` is one line of JSON (no newlines); a None event with
    no data is a comment line (the heartbeat)."""
    if event is None and data is None:
        return b": keepalive\n\n"
    out = []
    if retry_ms is not None:
        out.append(f"retry: {retry_ms}")
    if event:
        out.append(f"event: {event}")
    out.append(f"data: {data or '{}'}")
    return ("\n".join(out) + "\n\n").encode("utf-8")


def fallback(reason: str) -> bytes:
    """Tell the page to poll ``/now`` instead (it closes its EventSource on this event)."""
    return sse("poll", json.dumps({"reason": reason}), retry_ms=60_000)


async def stream_hall(request, signals: HallSignals, hall_id: str, render: Callable[[], dict | None], *,
                      headers: dict[str, str], heartbeat_s: float = 15.0, min_interval_s: float = 0.25,
                      write_timeout_s: float = 10.0):
    """Serve one ``text/event-stream`` of a hall's figures: an ``event: now`` with the
    ``/now`` JSON at once, then after each wake-up whose figures differ from the last sent;
    a comment line every ``heartbeat_s`` without change (so proxies and the browser see the
    stream alive); at most one message per ``min_interval_s``. A client that does not take
    a message within ``write_timeout_s`` is dropped. Refused at the subscriber limit with a
    ``poll`` event. Ends when the worker shuts down (:meth:`HallSignals.close`)."""
    from aiohttp import web

    resp = web.StreamResponse(headers={**headers, "Content-Type": "text/event-stream; charset=utf-8",
                                       "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    sub = None if signals.closed else signals.subscribe(hall_id)
    await resp.prepare(request)
    if sub is None:
        await resp.write(fallback("busy"))
        return resp
    last = None
    try:
        woken = True
        while not signals.closed:
            if woken:
                data = render()
                body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
                if body != last:
                    await asyncio.wait_for(resp.write(sse("now", body)), write_timeout_s)
                    signals.sent += 1
                    last = body
                    await asyncio.sleep(min_interval_s)  # wake-ups meanwhile: one message after
            else:
                await asyncio.wait_for(resp.write(sse(None)), write_timeout_s)
            woken = await sub.wait(heartbeat_s)
    except asyncio.TimeoutError:  # a client that does not read: its connection goes
        signals.dropped += 1
        if request.transport is not None:
            request.transport.close()
    except ConnectionError:  # the client went away
        pass
    finally:
        signals.unsubscribe(sub)
    return resp
