"""The worker's web server: bounded, read-only, and with the headers a browser needs.

The live API and the lobby page run in the worker's event loop, beside event processing,
so a crowd of slow clients must not be able to grow without limit:

* at most ``[worker].web_max_connections`` connections at a time; one more is answered
  503 and closed at once (:class:`LimitedRunner`);
* a connection that has not sent a complete request within
  ``[worker].web_idle_timeout_seconds`` of opening (or of its last response) is closed:
  aiohttp's ``keepalive_timeout``, which since aiohttp 3.10 also runs from the
  connection's start, so it bounds a client slow to send its headers too.

Every response carries ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
no-referrer``, ``X-Frame-Options: DENY`` and a ``Content-Security-Policy`` that lets the
lobby page load only its own scripts, styles and API (no inline script, no framing).
No response carries an ``Access-Control-Allow-Origin`` header, so no other site's page
can read the API. Only GET (and HEAD) are answered; anything else is 405.
"""

from __future__ import annotations

import asyncio
import json

import faust
from aiohttp import web
from aiohttp.web_runner import AppRunner

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "; ".join((
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'")),
}
READ_METHODS = ("GET", "HEAD")
_BUSY = json.dumps({"error": "the live API is at its connection limit; try again"}).encode()


@web.middleware
async def read_only_with_headers(request: web.Request, handler):
    if request.method not in READ_METHODS:
        raise web.HTTPMethodNotAllowed(request.method, READ_METHODS, headers=SECURITY_HEADERS,
                                       text=json.dumps({"error": "the live API is read-only: GET only"}),
                                       content_type="application/json")
    try:
        response = await handler(request)
    except web.HTTPException as e:
        e.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


def application_options(idle_timeout_s: float) -> dict:
    """Faust's ``web_application_options``: the middleware, no request bodies, and the
    idle timeout of every connection."""
    return {"middlewares": [read_only_with_headers], "client_max_size": 64 * 1024,
            "handler_args": {"keepalive_timeout": idle_timeout_s}}


class _Busy(asyncio.Protocol):
    """A connection over the limit: told so, and closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"  # type: ignore[attr-defined]
                        b"Retry-After: 1\r\nConnection: close\r\n"
                        b"Content-Length: " + str(len(_BUSY)).encode() + b"\r\n\r\n" + _BUSY)
        transport.close()


class _Limited:
    """aiohttp's server as a protocol factory, refusing connections past ``limit``."""

    def __init__(self, server: web.Server, limit: int):
        self.server = server
        self.limit = limit

    def __call__(self) -> asyncio.Protocol:
        if len(self.server.connections) >= self.limit:
            return _Busy()
        return self.server()


class LimitedRunner(AppRunner):
    """An ``AppRunner`` whose sites accept at most ``max_connections`` at a time."""

    __slots__ = ("_max_connections",)

    def __init__(self, app: web.Application, *, max_connections: int, **kwargs):
        super().__init__(app, **kwargs)
        self._max_connections = max_connections

    @property
    def server(self):
        server = super().server
        return None if server is None else _Limited(server, self._max_connections)


def bound_web_server(app: faust.App, max_connections: int) -> None:
    """Give Faust's aiohttp web driver the connection limit. Faust builds its
    ``AppRunner`` itself without a way to pass one in, so the runner is replaced before the
    server starts (faust-streaming 0.15, ``faust/web/drivers/aiohttp.py``)."""
    driver = app.web
    driver._runner = LimitedRunner(driver.web_app, access_log=None, max_connections=max_connections)
