"""``hallpulse sink``: the one process that owns the store and writes it.

Workers send what they accepted to the facts topic (and alerts to the alerts topic) in the
same Kafka transaction as their state, so those topics are the complete, exactly-once
record of what must be stored. The sink reads them (``read_committed``), gathers a batch
for up to ``[sink].batch_seconds`` (less once it is caught up: :func:`gather`), hands it
to the :class:`~sinks.facts.FactWriter` and
only then commits its offsets. A write that fails is retried with the same batch (backing
off up to ``retry_max_seconds``); the writes are idempotent, so a batch written again
after a crash leaves the same rows. Any number of workers can feed one sink, and the
embedded chDB store stays in one process.

The sink also answers the other commands' read-only SQL and the typed writes of
``publish`` and ``appeal`` (``POST /internal/sql``: loopback only, with the run's secret from
``var/sink.secret``, ``application/json`` only, never from a browser; see
``sinks/store.py``) and reports itself at ``GET /api/stats``. Its web server is bounded:
at most :data:`MAX_CONNECTIONS` connections at a time, each dropped after
:data:`SOCKET_TIMEOUT_S` without a byte.
"""

from __future__ import annotations

import errno
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog

from schemas.catalogue import Catalogue
from schemas.events import AlertEvent
from schemas.facts import decode_facts
from schemas.privacy import mask_text
from sinks.catalogue_mirror import mirror_catalogue
from sinks.facts import FactWriter, batch_from_facts
from sinks.migrate import apply_migrations, apply_ttl
from sinks.settings import SinkConfig
from sinks.store import Store, StoreError, create_secret, handle_proxy_request, open_store, owner_file, secret_file

log = structlog.get_logger("hallpulse.sink")

MAX_CONNECTIONS = 32            # connections served at once; more wait in the listen backlog ...
ACCEPT_WAIT_S = 5.0             # ... and are closed after this long without a free slot
SOCKET_TIMEOUT_S = 10.0         # a client silent this long (sending or reading) is dropped
MAX_BODY_BYTES = 256 * 1024 * 1024  # a published version carries every hall's results


class BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, but at most ``MAX_CONNECTIONS`` of them."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address):
        if not self.slots.acquire(timeout=ACCEPT_WAIT_S):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def refuse_proxy_request(headers, client: str, secret: str) -> tuple[int, str] | None:
    """Why a request to the store proxy is refused (status, message), or None: not from
    loopback; from a browser (it sends ``Origin`` or ``Sec-Fetch-Site``, and any web page
    may post to a loopback address); without this run's secret; not JSON."""
    if client not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        return 403, "the store proxy answers loopback clients only"
    if headers.get("Origin") is not None or headers.get("Sec-Fetch-Site") is not None:
        return 403, "the store proxy does not answer browsers (the request carries Origin or Sec-Fetch-Site)"
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), secret.encode()):
        return 401, "the store proxy needs the sink's secret: Authorization: Bearer <contents of var/sink.secret>"
    media = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        return 415, f"the store proxy takes application/json only, not {media or 'a body without Content-Type'!r}"
    return None


@dataclass
class SinkStats:
    messages: int = 0
    writes: int = 0
    rows: int = 0
    errors: int = 0
    last_write_s: float = 0.0
    last_error: str = ""
    writing: bool = False
    lag: int | None = None           # messages on the topics not yet written
    # while the store refuses writes: why ("disk_full", "refused"), since when, and how many
    # messages the sink holds meanwhile (one batch: it reads no more until that is written)
    failing: str = ""
    failing_since: float | None = None
    held_messages: int = 0
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        return {"messages": self.messages, "writes": self.writes, "rows": self.rows, "errors": self.errors,
                "last_write_s": round(self.last_write_s, 4), "last_error": self.last_error,
                "writing": self.writing, "lag": self.lag, "failing": self.failing or None,
                "failing_for_s": round(time.time() - self.failing_since, 1) if self.failing_since else None,
                "held_messages": self.held_messages}


POLL_MS = 200   # one poll of the facts and alerts topics waits at most this long


def gather(poll, *, seconds: float, min_seconds: float, max_messages: int, stopping, clock=time.monotonic,
           last_write: float | None = None) -> list:
    """One batch of ``(topic partition, record)``: what ``poll()`` returns until ``seconds``
    have passed or ``max_messages`` are in, or as soon as a poll returns nothing once the
    batch holds something and ``min_seconds`` have passed since the previous write began
    (``last_write``, on ``clock``; since this batch began when there was none). Under a
    backlog the batches stay large (each write re-aggregates the hours and days it
    touches); when the topics are caught up (the end of a backlog, a worker's commit just
    read) what came goes to the store at once instead of waiting out ``seconds``, and writes
    stay ``min_seconds`` apart. After a long write the next one need not wait again."""
    records: list = []
    started = clock()
    spaced_from = started if last_write is None else last_write
    while len(records) < max_messages and clock() - started < seconds and not stopping():
        polled = poll()
        if not polled:
            if records and clock() - spaced_from >= min_seconds:
                break
            continue
        for tp, batch in polled.items():
            records.extend((tp, r) for r in batch)
    return records


def store_failure(error: BaseException) -> str:
    """What kind of refusal a failed write is: ``disk_full`` (ENOSPC, ClickHouse's
    NOT_ENOUGH_SPACE) or ``refused`` (anything else: a server down, a read-only or
    forbidden directory)."""
    text = str(error)
    if "No space left" in text or "NOT_ENOUGH_SPACE" in text or "Cannot reserve" in text \
            or getattr(error, "errno", None) == errno.ENOSPC:
        return "disk_full"
    return "refused"


class Sink:
    def __init__(self, settings: SinkConfig, catalogue: Catalogue, *, silent_after_min: float):
        self.settings = settings
        self.catalogue = catalogue
        self.silent_after_min = silent_after_min
        self.store: Store | None = None
        self.lock = threading.Lock()   # one store call at a time: the writer and the SQL proxy
        self.stats = SinkStats()
        self.stopping = threading.Event()
        self.http: ThreadingHTTPServer | None = None
        self.secret = ""

    # ---- the store ----------------------------------------------------------------------
    def open(self) -> None:
        s = self.settings
        self.store = open_store(s, hold=True)
        applied = apply_migrations(self.store, s.store.ttl_months)
        ttl_changed = apply_ttl(self.store, s.store.ttl_months)
        mirror_catalogue(self.store, self.catalogue)
        self.writer = FactWriter(self.store, self.catalogue, expire_after_min=s.worker.expire_after_minutes,
                                 silent_after_min=self.silent_after_min, batch_rows=s.sink.insert_rows)
        log.info("store.ready", embedded=s.store.embedded, migrations_applied=applied, ttl_changed=ttl_changed,
                 where=str(s.chdb_path) if s.store.embedded else s.store.url)

    def serve(self) -> None:
        """The loopback web server: ping, stats, and the other commands' SQL."""
        sink = self
        host = "127.0.0.1" if self.settings.sink.web_host in ("0.0.0.0", "", "::") else self.settings.sink.web_host
        self.secret = create_secret(self.settings)

        class Handler(BaseHTTPRequestHandler):
            timeout = SOCKET_TIMEOUT_S

            def log_message(self, *args) -> None:  # requests are not news
                pass

            def _json(self, data: dict, status: int = 200) -> None:
                body = json.dumps(data, ensure_ascii=False, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Cache-Control", "no-store")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="hallpulse sink"')
                if status >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/internal/ping":
                    self._json({"ok": sink.store is not None})
                elif self.path == "/api/stats":
                    self._json({"sink": sink.stats.as_dict()})
                else:
                    self._json({"error": "not found"}, 404)

            def do_POST(self) -> None:
                if self.path != "/internal/sql":
                    return self._json({"error": "not found"}, 404)
                refused = refuse_proxy_request(self.headers, self.client_address[0], sink.secret)
                if refused:
                    return self._json({"error": refused[1]}, refused[0])
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    return self._json({"error": "a Content-Length that is not a number"}, 400)
                if length > MAX_BODY_BYTES:
                    return self._json({"error": f"a request body over {MAX_BODY_BYTES} bytes"}, 413)
                try:
                    payload = json.loads(self.rfile.read(length))
                    with sink.lock:
                        result = handle_proxy_request(sink.store, payload)
                except (StoreError, ValueError) as e:
                    return self._json({"error": str(e)}, 400)
                except Exception as e:  # an engine error: report it to the caller, keep serving
                    return self._json({"error": f"{type(e).__name__}: {e}"}, 400)
                self._json(result)

        self.http = BoundedHTTPServer((self.settings.sink.web_host, self.settings.sink.web_port), Handler)
        threading.Thread(target=self.http.serve_forever, name="sink-http", daemon=True).start()
        owner_file(self.settings).write_text(json.dumps(
            {"pid": os.getpid(), "url": f"http://{host}:{self.settings.sink.web_port}"}))

    # ---- the consumer loop -----------------------------------------------------------------
    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        s = self.settings
        topics = [s.topics.facts, s.topics.alerts]
        consumer = KafkaConsumer(*topics, bootstrap_servers=s.kafka.servers, group_id=s.sink.group_id,
                                 isolation_level="read_committed", enable_auto_commit=False,
                                 auto_offset_reset="earliest", max_poll_records=5000)
        parts = [TopicPartition(t, p) for t in topics for p in range(s.topics.partitions)]
        last_write = None
        try:
            while not self.stopping.is_set():
                facts, alerts = [], []
                records = gather(lambda: consumer.poll(timeout_ms=POLL_MS, max_records=5000),
                                 seconds=s.sink.batch_seconds, min_seconds=s.sink.batch_min_seconds,
                                 max_messages=s.sink.batch_messages, stopping=self.stopping.is_set,
                                 last_write=last_write)
                for tp, r in records:
                    if tp.topic == s.topics.alerts:
                        alerts.append(AlertEvent.model_validate_json(r.value))
                    else:
                        facts.extend(decode_facts(r.value))
                n = len(records)
                if n:
                    last_write = time.monotonic()
                    self.stats.held_messages = n
                    self._write(batch_from_facts(facts, alerts), consumer)
                    self._commit(consumer)
                    self.stats.messages += n
                    self.stats.held_messages = 0
                self._update_lag(consumer, parts)
        finally:
            consumer.close()

    def _write(self, batch, consumer=None) -> None:
        """Write one batch, retrying until it is stored (the offsets wait for it).

        While the store refuses, the sink holds this one batch and reads nothing more: the
        facts wait on their topic, so memory stays bounded by ``batch_messages`` however
        long the outage. The consumer is paused and polled meanwhile, which keeps it in its
        group past ``max_poll_interval``."""
        delay = 0.5
        paused = False
        try:
            while True:
                t0 = time.perf_counter()
                self.stats.writing = True
                try:
                    with self.lock:
                        result = self.writer.write(batch)
                except Exception as e:  # the store refused or is down: keep the batch, try again
                    self._failed(e, delay)
                    if consumer is not None and not paused:
                        consumer.pause(*consumer.assignment())
                        paused = True
                    if self._wait(delay, consumer):
                        raise
                    delay = min(delay * 2, self.settings.sink.retry_max_seconds)
                    continue
                finally:
                    self.stats.writing = False
                if self.stats.failing:
                    log.warning("sink.store_back", was=self.stats.failing,
                                after_s=round(time.time() - (self.stats.failing_since or time.time()), 1))
                    self.stats.failing, self.stats.failing_since = "", None
                self.stats.writes += 1
                self.stats.rows += result.rows
                self.stats.last_write_s = time.perf_counter() - t0
                return
        finally:
            if paused:
                consumer.resume(*consumer.paused())

    def _failed(self, error: BaseException, delay: float) -> None:
        kind = store_failure(error)
        self.stats.errors += 1
        self.stats.last_error = mask_text(str(error)[:300])
        if self.stats.failing != kind:
            self.stats.failing, self.stats.failing_since = kind, self.stats.failing_since or time.time()
            if kind == "disk_full":
                where = self.settings.chdb_path if self.settings.store.embedded else self.settings.store.url
                log.error("sink.disk_full", where=str(where), held_messages=self.stats.held_messages,
                          message=f"the store's disk is full ({where}): holding input until space is freed; "
                                  "nothing is dropped, the facts wait on their Kafka topic")
            else:
                log.error("sink.store_refused", held_messages=self.stats.held_messages,
                          message="the store refuses writes: holding input and retrying; nothing is dropped")
        log.error("sink.write_failed", reason=kind, error=self.stats.last_error, retry_in_s=delay)

    def _wait(self, seconds: float, consumer) -> bool:
        """Wait ``seconds`` (True when the sink is stopping), polling a paused consumer."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.stopping.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                return True
            if consumer is not None:
                try:
                    consumer.poll(timeout_ms=0)   # paused: returns nothing, keeps the membership
                except Exception as e:  # e.g. the broker is away too: the next write decides
                    log.warning("sink.poll_failed", error=str(e)[:200])
        return False

    def _commit(self, consumer) -> None:
        """Commit what was written. A commit that fails (the broker away, a rebalance) is
        not fatal: the batch is read again later and written again, to the same rows."""
        for attempt in range(5):
            try:
                consumer.commit(timeout_ms=30_000)
                return
            except Exception as e:
                log.warning("sink.commit_failed", error=str(e)[:200], attempt=attempt + 1)
                if self.stopping.wait(min(2.0 ** attempt, 10.0)):
                    return
        log.error("sink.commit_gave_up", message="offsets not committed; the batch will be written again")

    def _update_lag(self, consumer, parts) -> None:
        try:
            assigned = consumer.assignment()
            if not assigned:
                self.stats.lag = None
                return
            ends = consumer.end_offsets(parts, timeout_ms=5000)
            self.stats.lag = sum(max(0, ends[tp] - consumer.position(tp)) for tp in parts if tp in assigned)
        except Exception:  # e.g. during a rebalance: unknown for now
            self.stats.lag = None

    def close(self) -> None:
        self.stopping.set()
        if self.http is not None:
            self.http.shutdown()
        try:
            if json.loads(owner_file(self.settings).read_text()).get("pid") == os.getpid():
                owner_file(self.settings).unlink()
                if secret_file(self.settings).read_text().strip() == self.secret:
                    secret_file(self.settings).unlink()
        except (OSError, ValueError):
            pass
        if self.store is not None:
            self.store.close()
