"""The notifier process: read ``hall.alerts``, message the routed robots, then commit.

Per alert event, in offset order: decode → :class:`~sinks.notify.policy.Gate` (quiet hours,
interval, staleness) → :func:`~sinks.notify.routing.channels_for` →
:func:`~sinks.notify.render.render` → one POST per channel, retried with exponential
backoff on a retryable failure. A channel that still fails after the last retry (or refuses
outright: a wrong key, a bad signature) gets a dead letter on the dead-letter topic, reason
``notify_failed``. Only then is the event's offset committed, so a notifier killed at any
point sends again only what it had not committed: at most the event it was working on.

While it waits between retries the consumer is paused and polled, so it keeps its
partitions (``max_poll_interval``) however long the backoff.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import structlog
from pydantic import ValidationError

from schemas.catalogue import Catalogue
from schemas.events import AlertEvent, describe_error
from sinks.notify.channels import Answer, backoff, payload, post, signed_url
from sinks.notify.policy import Gate
from sinks.notify.render import Message, render
from sinks.notify.routing import channels_for
from sinks.notify.settings import ChannelSettings, NotifyConfig
from streams.engine import DeadLetter

log = structlog.get_logger("hallpulse.notify")

REPLAY_HEADER = "hallpulse-replay-attempt"
Sender = Callable[[str, dict, float], Answer]


class Stopping(Exception):
    """The process is stopping in the middle of an event: leave it uncommitted."""


@dataclass
class NotifyStats:
    events: int = 0                 # alert events read and decided
    messages_sent: int = 0          # (event, channel) deliveries accepted by a robot
    attempts: int = 0
    retries: int = 0
    dead_letters: int = 0
    held: Counter = field(default_factory=Counter)  # reason -> events not sent
    last_error: str = ""
    lag: int | None = None

    def as_dict(self) -> dict:
        return {"events": self.events, "messages_sent": self.messages_sent, "attempts": self.attempts,
                "retries": self.retries, "dead_letters": self.dead_letters, "held": dict(self.held),
                "last_error": self.last_error, "lag": self.lag}


class Notifier:
    def __init__(self, settings: NotifyConfig, catalogue: Catalogue, *, dry_run: bool = False,
                 sender: Sender = post, echo: Callable[[str], None] = print):
        self.settings = settings
        n = settings.notify
        self.catalogue = catalogue
        self.dry_run = dry_run
        self.sender = sender
        self.echo = echo
        self.gate = Gate(quiet_start=n.quiet_start, quiet_end=n.quiet_end,
                         min_interval=timedelta(minutes=n.min_interval_minutes), notify_closed=n.notify_closed,
                         max_age=timedelta(minutes=n.max_age_minutes))
        self.stats = NotifyStats()
        self.stopping = threading.Event()
        self.http: ThreadingHTTPServer | None = None
        self.consumer = None
        self.producer = None

    # ---- one event (no Kafka here: testable with a fake sender) -------------------------
    def handle(self, value: bytes, *, replayed: bool = False, now: datetime | None = None
               ) -> list[tuple[ChannelSettings, Answer, int]]:
        """Decide, render and deliver one alert event; returns the channels that failed
        (channel, last answer, attempts). Raises :class:`Stopping` mid-retry on shutdown."""
        e = AlertEvent.model_validate_json(value)
        self.stats.events += 1
        d = self.gate.decide(e, now or datetime.now(timezone.utc), replayed=replayed)
        if not d.send:
            self.stats.held[d.reason] += 1
            log.info("notify.held", alert_id=e.alert_id, action=e.action.value, level=e.level.value, reason=d.reason)
            return []
        hall = self.catalogue.get(e.hall_id)
        names = channels_for(e.hall_id, hall.city if hall else None, self.settings.notify.routes,
                             self.settings.notify.default_channels)
        if not names:
            self.stats.held["unrouted"] += 1
            log.warning("notify.unrouted", alert_id=e.alert_id, hall_id=e.hall_id)
            return []
        message = render(e, hall, lobby_url=self.settings.notify.lobby_url, held_before=d.held_before)
        failed = []
        for name in names:
            channel = self.settings.notify.channel(name)
            answer, attempts = self._deliver(channel, message)
            if answer.ok:
                self.stats.messages_sent += 1
                log.info("notify.sent", alert_id=e.alert_id, action=e.action.value, level=e.level.value,
                         channel=name, attempts=attempts)
            else:
                failed.append((channel, answer, attempts))
        self.gate.sent(e)  # also when dead-lettered: the interval is about people, not robots
        return failed

    def _deliver(self, channel: ChannelSettings, message: Message) -> tuple[Answer, int]:
        if self.dry_run:
            self.echo(f"--- {channel.name} ({channel.kind}) ---\n{message.text}\n")
            return Answer(True, False, "dry run"), 0
        n = self.settings.notify
        body = payload(channel.kind, message)
        attempt = 0
        while True:
            attempt += 1
            self.stats.attempts += 1
            try:
                url = signed_url(channel.webhook_url(), channel.secret(), int(time.time() * 1000))
            except ValueError as e:  # its environment variable is missing: no retry helps
                return Answer(False, False, str(e)), attempt
            answer = self.sender(url, body, n.timeout_seconds)
            if answer.ok or not answer.retryable or attempt > n.retries:
                if not answer.ok:
                    self.stats.last_error = f"{channel.name}: {answer.detail}"
                return answer, attempt
            delay = backoff(attempt, n.backoff_base_seconds, n.backoff_max_seconds)
            self.stats.retries += 1
            self.stats.last_error = f"{channel.name}: {answer.detail}"
            log.warning("notify.retry", channel=channel.name, attempt=attempt, error=answer.detail, retry_in_s=delay)
            if self._wait(delay):
                raise Stopping()

    def _wait(self, seconds: float) -> bool:
        """Wait (True when stopping), keeping a paused consumer in its group."""
        consumer = self.consumer
        paused = bool(consumer and consumer.assignment())
        if paused:
            consumer.pause(*consumer.assignment())
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if self.stopping.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                    return True
                if paused:
                    try:
                        consumer.poll(timeout_ms=0)
                    except Exception as e:  # the broker away: the commit decides later
                        log.warning("notify.poll_failed", error=str(e)[:200])
            return False
        finally:
            if paused:
                consumer.resume(*consumer.paused())

    # ---- the Kafka loop ---------------------------------------------------------------------
    def run(self) -> None:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        from kafka.structs import OffsetAndMetadata

        s = self.settings
        self.consumer = consumer = KafkaConsumer(
            s.topics.alerts, bootstrap_servers=s.kafka.servers, group_id=s.notify.group_id,
            isolation_level="read_committed", enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=100)
        if not self.dry_run:
            self.producer = KafkaProducer(bootstrap_servers=s.kafka.servers, acks="all")
        parts = [TopicPartition(s.topics.alerts, p) for p in range(s.topics.partitions)]
        try:
            while not self.stopping.is_set():
                for tp, records in consumer.poll(timeout_ms=500).items():
                    for r in records:
                        if self.stopping.is_set():
                            return
                        try:
                            self._one(r)
                        except Stopping:
                            return
                        if not self.dry_run:
                            self._commit(consumer, {tp: OffsetAndMetadata(r.offset + 1, "", -1)})
                self._update_lag(parts)
        finally:
            consumer.close()
            if self.producer is not None:
                self.producer.close()

    def _commit(self, consumer, offsets) -> None:
        """Commit one event. A commit that fails (a rebalance, the broker away) is logged:
        the event is read again by whoever owns the partition next and sent once more."""
        try:
            consumer.commit(offsets)
        except Exception as e:
            log.error("notify.commit_failed", error=str(e)[:200])

    def _one(self, r) -> None:
        headers = dict(r.headers or [])
        replay_attempt = headers.get(REPLAY_HEADER)
        try:
            failed = self.handle(r.value, replayed=replay_attempt is not None)
        except ValidationError as e:
            self._dead_letter(r, "notify_malformed", f"not an alert event: {describe_error(e)}", replay_attempt)
            return
        for channel, answer, attempts in failed:
            log.error("notify.failed", channel=channel.name, error=answer.detail, attempts=attempts)
            self._dead_letter(r, "notify_failed", f"channel {channel.name} ({channel.kind}): {answer.detail} "
                                                  f"after {attempts} attempt(s)", replay_attempt)

    def _dead_letter(self, r, code: str, reason: str, replay_attempt: bytes | None) -> None:
        self.stats.dead_letters += 1
        if self.dry_run:
            self.echo(f"--- dead letter ({code}) ---\n{reason}\n")
            return
        attempts = int(replay_attempt) + 1 if replay_attempt else 1
        key = r.key.decode(errors="replace") if r.key else None
        dl = DeadLetter(reason_code=code, reason=reason, topic=r.topic, partition=r.partition, offset=r.offset,
                        key=key, original=r.value, attempts=attempts)
        self.producer.send(self.settings.topics.deadletter, key=r.key, value=dl.to_json()).get(timeout=30)

    def _update_lag(self, parts) -> None:
        try:
            assigned = self.consumer.assignment()
            if not assigned:
                self.stats.lag = None
                return
            ends = self.consumer.end_offsets(parts)
            self.stats.lag = sum(max(0, ends[tp] - self.consumer.position(tp)) for tp in parts if tp in assigned)
        except Exception:  # e.g. during a rebalance
            self.stats.lag = None

    # ---- ping and stats ----------------------------------------------------------------------
    def serve(self) -> None:
        notifier = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/internal/ping":
                    data, status = {"ok": True}, 200
                elif self.path == "/api/stats":
                    data, status = {"notify": notifier.stats.as_dict()}, 200
                else:
                    data, status = {"error": "not found"}, 404
                body = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        n = self.settings.notify
        self.http = ThreadingHTTPServer((n.web_host, n.web_port), Handler)
        threading.Thread(target=self.http.serve_forever, name="notify-http", daemon=True).start()

    def close(self) -> None:
        self.stopping.set()
        if self.http is not None:
            self.http.shutdown()
