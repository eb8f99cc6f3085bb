"""The worker's web server bounds and headers (streams/web_server.py), on a bare aiohttp
app built the way the worker builds its own: no broker needed. The real worker under 200
slow clients is the chaos trial tests/chaos/test_http_surface.py."""

from __future__ import annotations

import asyncio
import json
import socket
import time

from aiohttp import web
from aiohttp.web_runner import TCPSite

from streams.web_server import SECURITY_HEADERS, LimitedRunner, application_options


async def _serve(max_connections: int, idle_timeout_s: float):
    opts = application_options(idle_timeout_s)
    app = web.Application(middlewares=opts["middlewares"], client_max_size=opts["client_max_size"],
                          handler_args=opts["handler_args"])

    async def now(request):
        return web.json_response({"ok": True})

    async def lobby(request):
        return web.Response(text="<!doctype html><title>x</title>", content_type="text/html")

    app.router.add_route("*", "/api/halls", now)
    app.router.add_get("/lobby/", lobby)
    runner = LimitedRunner(app, access_log=None, max_connections=max_connections)
    await runner.setup()
    site = TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site.port


async def _request(port: int, raw: bytes, timeout: float = 5) -> tuple[int, dict, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode()


def test_headers_no_cors_and_get_only():
    async def main():
        runner, port = await _serve(16, 5)
        try:
            status, headers, body = await _request(port, get("/lobby/", "Origin: http://evil.example\r\n"))
            assert status == 200
            for k, v in SECURITY_HEADERS.items():
                assert headers[k.lower()] == v
            assert "'unsafe-inline'" not in headers["content-security-policy"]
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert not any(k.startswith("access-control-") for k in headers)

            status, headers, _ = await _request(port, get("/api/halls", "Origin: http://evil.example\r\n"))
            assert status == 200 and "access-control-allow-origin" not in headers
            assert headers["x-content-type-options"] == "nosniff"

            # a form post or a no-preflight text/plain post from another page: refused
            body = b"x=1"
            status, headers, resp = await _request(port, (
                "POST /api/halls HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nOrigin: http://evil.example\r\n\r\n").encode() + body)
            assert status == 405 and "GET only" in json.loads(resp)["error"]
            assert headers["x-content-type-options"] == "nosniff"
            status, headers, _ = await _request(port, (
                "OPTIONS /api/halls HTTP/1.1\r\nHost: x\r\nConnection: close\r\nOrigin: http://evil.example\r\n"
                "Access-Control-Request-Method: POST\r\n\r\n").encode())
            assert status == 405 and "access-control-allow-origin" not in headers
            # an unknown path still carries the headers
            status, headers, _ = await _request(port, get("/nope"))
            assert status == 404 and headers["x-frame-options"] == "DENY"
        finally:
            await runner.cleanup()
    asyncio.run(main())


def test_a_client_slow_to_send_its_headers_is_dropped_after_the_idle_timeout():
    async def main():
        runner, port = await _serve(16, 1.0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            t0 = time.monotonic()
            writer.write(b"GET /api/halls HTTP/1.1\r\n")
            for _ in range(20):  # one header byte every 0.2 s: never a complete request
                await asyncio.sleep(0.2)
                if reader.at_eof():
                    break
                try:
                    writer.write(b"X")
                    await writer.drain()
                except ConnectionError:
                    break
            data = await asyncio.wait_for(reader.read(), 5)
            closed_after = time.monotonic() - t0
            assert b"200" not in data.split(b"\r\n", 1)[0]
            assert closed_after < 3.5, closed_after
            writer.close()
        finally:
            await runner.cleanup()
    asyncio.run(main())


def test_connections_past_the_limit_get_503_and_the_rest_are_served():
    async def main():
        runner, port = await _serve(4, 3.0)
        held = []
        try:
            for _ in range(4):  # four idle connections take every slot
                held.append(await asyncio.open_connection("127.0.0.1", port))
            await asyncio.sleep(0.1)
            status, headers, body = await _request(port, get("/api/halls"))
            assert status == 503 and "connection limit" in json.loads(body)["error"]
            for _, w in held:
                w.close()
            held.clear()
            await asyncio.sleep(0.3)
            status, _, _ = await _request(port, get("/api/halls"))
            assert status == 200
        finally:
            for _, w in held:
                w.close()
            await runner.cleanup()
    asyncio.run(main())


def test_the_worker_app_is_built_with_the_bounds(tmp_path, monkeypatch):
    """create_app wires the middleware, the idle timeout and the limit into Faust's driver."""
    from hallpulse.config import Settings
    from streams.app import create_app

    monkeypatch.setenv("HALLPULSE__WORKER__WEB_MAX_CONNECTIONS", "7")
    monkeypatch.setenv("HALLPULSE__WORKER__WEB_IDLE_TIMEOUT_SECONDS", "4")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HALLPULSE__WORKER__WEB_PORT", str(port))
    app, _ = create_app(Settings(var_dir=tmp_path))
    assert isinstance(app.web._runner, LimitedRunner) and app.web._runner._max_connections == 7
    assert app.web.web_app._handler_args == {"keepalive_timeout": 4.0}
    assert app.web.web_app.middlewares[-1].__name__ == "read_only_with_headers"
