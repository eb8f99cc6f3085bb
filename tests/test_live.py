"""The lobby page's event streams (streams/live.py) on a bare aiohttp app built the way the
worker builds its own (bounded runner, idle timeout, security headers): no broker needed.
The worker's own route (streams/web.py) is the same function around ``hall_now``."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web
from aiohttp.web_runner import TCPSite

from streams.live import HallSignals, stream_hall
from streams.web_server import SECURITY_HEADERS, LimitedRunner, application_options


async def _serve(signals: HallSignals, figures: dict, *, idle_timeout_s: float = 0.5, heartbeat_s: float = 0.3,
                 write_timeout_s: float = 1.0):
    opts = application_options(idle_timeout_s)
    app = web.Application(middlewares=opts["middlewares"], handler_args=opts["handler_args"])

    async def events(request):
        hall = request.match_info["hall"]
        return await stream_hall(request, signals, hall, lambda: dict(figures[hall]), headers=SECURITY_HEADERS,
                                 heartbeat_s=heartbeat_s, min_interval_s=0.05, write_timeout_s=write_timeout_s)

    app.router.add_get("/api/halls/{hall}/events", events)
    runner = LimitedRunner(app, access_log=None, max_connections=16)
    await runner.setup()
    site = TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def _open(port: int, hall: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/halls/{hall}/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head.decode()


async def _next_block(reader, timeout: float = 5) -> str:
    """The next SSE block (chunked transfer: strip the chunk sizes)."""
    buf = ""
    deadline = time.monotonic() + timeout
    while "\n\n" not in buf:
        size = int((await asyncio.wait_for(reader.readline(), deadline - time.monotonic())).strip(), 16)
        buf += (await reader.readexactly(size + 2))[:-2].decode()
    return buf


def test_a_change_is_pushed_at_once_and_heartbeats_keep_the_stream_past_the_idle_timeout():
    async def main():
        signals = HallSignals(max_subscribers=4)
        figures = {"H1": {"waiting": 3}}
        runner, port = await _serve(signals, figures)
        try:
            reader, writer, head = await _open(port, "H1")
            assert " 200 " in head.splitlines()[0]
            assert "text/event-stream" in head and "Content-Security-Policy" in head
            assert "Access-Control-Allow-Origin" not in head
            first = await _next_block(reader)
            assert first == 'event: now\ndata: {"waiting":3}\n\n'
            assert signals.count == 1

            # nothing changes for longer than the idle timeout: comments, and the stream stays
            t0 = time.monotonic()
            blocks = []
            while time.monotonic() - t0 < 1.5:
                blocks.append(await _next_block(reader))
            assert set(blocks) == {": keepalive\n\n"} and len(blocks) >= 3

            # a batch changed the hall: pushed well within a second
            figures["H1"] = {"waiting": 4}
            t1 = time.monotonic()
            assert signals.notify(["H1", "H2"]) == 1
            got = await _next_block(reader)
            while got.startswith(":"):
                got = await _next_block(reader)
            assert got == 'event: now\ndata: {"waiting":4}\n\n' and time.monotonic() - t1 < 1.0

            # woken without a change (another hall's batch, a tick): nothing sent
            sent = signals.sent
            signals.notify(None)
            assert (await _next_block(reader)).startswith(":") and signals.sent == sent

            writer.close()
            for _ in range(50):  # gone at its next write
                if signals.count == 0:
                    break
                await asyncio.sleep(0.05)
            assert signals.count == 0
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_subscribers_are_capped_and_the_one_over_is_told_to_poll():
    async def main():
        signals = HallSignals(max_subscribers=1)
        runner, port = await _serve(signals, {"H1": {"w": 1}})
        try:
            r1, w1, _ = await _open(port, "H1")
            await _next_block(r1)
            r2, w2, head = await _open(port, "H1")
            assert " 200 " in head.splitlines()[0]
            block = await _next_block(r2)
            assert "event: poll" in block and json.loads(block.split("data: ")[1])["reason"] == "busy"
            assert signals.refused == 1 and signals.count == 1
            w1.close(), w2.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_a_client_that_does_not_read_is_dropped():
    async def main():
        signals = HallSignals(max_subscribers=4)
        big = {"H1": {"pad": "x" * 200_000, "n": 0}}
        runner, port = await _serve(signals, big, write_timeout_s=0.5)
        try:
            reader, writer, _ = await _open(port, "H1")  # and never reads again
            for i in range(1, 60):
                big["H1"] = {"pad": "x" * 200_000, "n": i}
                signals.notify(["H1"])
                await asyncio.sleep(0.06)
                if signals.dropped:
                    break
            assert signals.dropped == 1
            for _ in range(40):
                if signals.count == 0:
                    break
                await asyncio.sleep(0.05)
            assert signals.count == 0
            writer.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_close_ends_every_stream():
    async def main():
        signals = HallSignals(max_subscribers=4)
        runner, port = await _serve(signals, {"H1": {"w": 1}}, heartbeat_s=30)
        try:
            reader, writer, _ = await _open(port, "H1")
            await _next_block(reader)
            signals.close()
            tail = await asyncio.wait_for(reader.read(), 3)  # the response ends (last chunk)
            assert tail.endswith(b"0\r\n\r\n")
            assert signals.count == 0 and signals.subscribe("H1") is None
            writer.close()
        finally:
            await runner.cleanup()

    asyncio.run(main())
