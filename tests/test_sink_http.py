"""The sink's web server without a broker: who the store proxy refuses before reading the
body (sinks/sink.py ``refuse_proxy_request``), and the bound on its connections. The whole
proxy on a running sink: tests/test_store_proxy.py."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from email.message import Message
from http.server import BaseHTTPRequestHandler

import pytest

from sinks import sink as sink_module
from sinks.sink import BoundedHTTPServer, refuse_proxy_request

SECRET = "s" * 43


def headers(**h: str) -> Message:
    m = Message()
    for k, v in h.items():
        m[k.replace("_", "-")] = v
    return m


GOOD = {"Authorization": f"Bearer {SECRET}", "Content_Type": "application/json"}


@pytest.mark.parametrize(("client", "h", "status", "words"), [
    ("10.0.0.5", GOOD, 403, "loopback"),
    ("127.0.0.1", {**GOOD, "Origin": "http://kiosk.example"}, 403, "browsers"),
    ("127.0.0.1", {**GOOD, "Origin": "null"}, 403, "browsers"),
    ("127.0.0.1", {**GOOD, "Sec_Fetch_Site": "same-origin"}, 403, "browsers"),
    ("127.0.0.1", {"Content_Type": "application/json"}, 401, "secret"),
    ("127.0.0.1", {**GOOD, "Authorization": f"Basic {SECRET}"}, 401, "secret"),
    ("127.0.0.1", {**GOOD, "Authorization": f"Bearer {SECRET}x"}, 401, "secret"),
    ("127.0.0.1", {**GOOD, "Authorization": "Bearer "}, 401, "secret"),
    ("127.0.0.1", {**GOOD, "Content_Type": "text/plain"}, 415, "application/json"),
    ("127.0.0.1", {**GOOD, "Content_Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ("127.0.0.1", {"Authorization": f"Bearer {SECRET}"}, 415, "application/json"),
])
def test_refused(client, h, status, words):
    got = refuse_proxy_request(headers(**h), client, SECRET)
    assert got is not None and got[0] == status and words in got[1]


@pytest.mark.parametrize("client", ["127.0.0.1", "::1"])
def test_answered(client):
    assert refuse_proxy_request(headers(**GOOD), client, SECRET) is None
    h = headers(**{**GOOD, "Content_Type": "application/json; charset=utf-8"})
    assert refuse_proxy_request(h, client, SECRET) is None


def test_connections_past_the_bound_wait_and_silent_ones_are_dropped(monkeypatch):
    monkeypatch.setattr(sink_module, "MAX_CONNECTIONS", 2)
    monkeypatch.setattr(sink_module, "ACCEPT_WAIT_S", 0.5)

    class Handler(BaseHTTPRequestHandler):
        timeout = 1.5   # as SOCKET_TIMEOUT_S, shorter

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(body)

    srv = BoundedHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    url = f"http://127.0.0.1:{port}/"
    try:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]  # every slot, silent
        time.sleep(0.2)
        t0 = time.monotonic()
        third = socket.create_connection(("127.0.0.1", port))
        third.sendall(b"GET / HTTP/1.0\r\n\r\n")
        third.settimeout(5)
        first = third.recv(100)
        # no slot within ACCEPT_WAIT_S (the silent ones hold theirs for 1.5 s): turned away
        assert first == b"" and 0.3 < time.monotonic() - t0 < 1.4
        third.close()
        for s in idle:   # the silent ones were closed by the server after the socket timeout
            s.settimeout(5)
            assert s.recv(100) == b""
            s.close()
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.read() == b"ok"
    finally:
        srv.shutdown()
        srv.server_close()
