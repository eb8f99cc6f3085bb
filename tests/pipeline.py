"""Harness for integration tests: the real Kafka broker and real worker processes.

The broker is the project's own local KRaft broker (``hallpulse kafka up``) on free
loopback ports under a temporary directory, or the cluster in ``KAFKA_BOOTSTRAP``. Each
test gets its own topic names and Faust application id, so tests never see each other's
messages, and its worker runs as a separate process that can be killed like a real one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from hallpulse.config import Settings
from sinks.store import ProxyStore, read_secret

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except SystemExit as e:  # the thing died: no point waiting
            raise AssertionError(str(e)) from None
        except Exception as e:  # the thing is not up yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class ServiceProcess:
    """One ``hallpulse <command>`` process with its own web port, killable like a real one."""

    command: str
    env: dict[str, str]
    var_dir: Path
    log_path: Path
    port_env: str
    proc: subprocess.Popen | None = None
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        old = dict(os.environ)
        os.environ.update(self.env)
        try:
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(old)

    def start(self, timeout: float = 90) -> "ServiceProcess":
        log = open(self.log_path, "ab")
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, **self.env, self.port_env: str(self.port), "PYTHONPATH": pythonpath}
        self.proc = subprocess.Popen([sys.executable, "-m", "hallpulse", self.command], cwd=self.var_dir.parent,
                                     env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise SystemExit(f"the {self.command} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return self.get("/internal/ping")["ok"]

        try:
            wait_for(up, timeout, f"the {self.command}'s web server")
        except AssertionError:
            raise AssertionError(f"the {self.command} did not come up:\n{self.log_tail()}") from None
        return self

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self.get("/api/stats")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class WorkerProcess(ServiceProcess):
    """A ``hallpulse worker`` with its own topics, app id and web port, and the
    ``hallpulse sink`` that writes its facts into its own store (started with it, unless
    one is given: several workers can share one sink)."""

    def __init__(self, env: dict[str, str], var_dir: Path, log_path: Path, sink: "ServiceProcess | None" = None):
        super().__init__("worker", env, var_dir, log_path, "HALLPULSE__WORKER__WEB_PORT")
        self.sink = sink or ServiceProcess("sink", env, var_dir, log_path.with_name(log_path.stem + "-sink.log"),
                                           "HALLPULSE__SINK__WEB_PORT")

    def start(self, timeout: float = 90) -> "WorkerProcess":
        if self.sink.proc is None or self.sink.proc.poll() is not None:
            self.sink.start(timeout)
        super().start(timeout)
        return self

    def wait_processed(self, n: int, timeout: float = 90) -> dict:
        """Until the engine has seen ``n`` messages (processed + duplicates + dead letters)."""
        def seen():
            c = self.stats()["engine"]
            return c if c["processed"] + c["duplicates"] + c["dead_letters"] >= n else None
        return wait_for(seen, timeout, f"{n} messages through the worker")

    def committed_all(self) -> bool:
        """Whether the workers' consumer group has committed every input message (under
        exactly-once: their transactions, with the facts and alerts, are committed too)."""
        from kafka import KafkaConsumer, TopicPartition

        st = self.settings
        c = KafkaConsumer(bootstrap_servers=st.kafka.servers, group_id=st.worker.app_id, enable_auto_commit=False)
        try:
            tps = [TopicPartition(t, p) for t in st.topics.inputs for p in range(st.topics.partitions)]
            ends = c.end_offsets(tps)
            return all((c.committed(tp) or 0) >= ends[tp] for tp in tps)
        finally:
            c.close()

    def wait_flushed(self, timeout: float = 60) -> None:
        """Until everything the worker sent is written to the store: the workers have
        committed every input message (their facts and alerts become visible at commits,
        which a loaded machine may delay), then the sink has read the facts and alerts
        topics to their end and written them, and stays so across a commit interval."""
        wait_for(self.committed_all, timeout, "the workers to commit every input message", interval=0.5)

        def idle():
            s = self.sink.stats()["sink"]
            return s["lag"] == 0 and not s["writing"]

        def settled():
            wait_for(idle, timeout, "the sink to write everything", interval=0.2)
            first = self.sink.stats()["sink"]["messages"]
            time.sleep(3.5)  # longer than Faust's commit interval
            return idle() and self.sink.stats()["sink"]["messages"] == first
        wait_for(settled, timeout, "the sink to settle", interval=0.1)

    def store(self) -> ProxyStore:
        return ProxyStore(self.sink.url, read_secret(self.sink.settings))

    def stop(self) -> None:
        super().stop()
        self.sink.stop()

    def log_tail(self, n: int = 60) -> str:
        return super().log_tail(n) + "\n--- sink ---\n" + self.sink.log_tail(n // 2)


def proxy_post(url: str, body, *, secret: str | None = None, content_type: str | None = "application/json",
               headers: dict | None = None) -> tuple[int, dict]:
    """A raw request to a sink's store proxy (``POST /internal/sql``), as curl would send it:
    (status, the JSON answer)."""
    import urllib.error

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = dict(headers or {})
    if content_type:
        h["Content-Type"] = content_type
    if secret:
        h["Authorization"] = f"Bearer {secret}"
    req = urllib.request.Request(f"{url}/internal/sql", data=data, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def worker_env(bootstrap: str, var_dir: Path, tag: str | None = None, **extra: str) -> dict[str, str]:
    tag = tag or uuid.uuid4().hex[:8]
    env = {
        "KAFKA_BOOTSTRAP": bootstrap,
        "HALLPULSE__VAR_DIR": str(var_dir),
        "HALLPULSE__WORKER__APP_ID": f"hp-test-{tag}",
        "HALLPULSE__SINK__BATCH_SECONDS": "0.5",
        "HALLPULSE__SINK__GROUP_ID": f"hp-sink-{tag}",
        "HALLPULSE__WORKER__SESSION_TIMEOUT_SECONDS": "6",
        "HALLPULSE__TOPICS__PARTITIONS": "2",
        "HALLPULSE_CONFIG": str(ROOT / "config" / "hallpulse.toml"),
    }
    for name in ("tickets", "transactions", "surveys", "alerts", "deadletter", "ticks", "facts"):
        env[f"HALLPULSE__TOPICS__{name.upper()}"] = f"t-{tag}.{name}"
    env.update(extra)
    return env


class Producer:
    """Sends contract events (kind, bytes) to a worker's topics, keyed by hall."""

    def __init__(self, settings: Settings):
        from kafka import KafkaProducer

        self.settings = settings
        self.producer = KafkaProducer(bootstrap_servers=settings.kafka.servers, acks="all", linger_ms=5)

    def send(self, events, key: str | None = None) -> int:
        n = 0
        for kind, raw in events:
            try:
                hall = key or json.loads(raw).get("hall_id", "")
            except ValueError:
                hall = key or "unknown"
            self.producer.send(getattr(self.settings.topics, kind), key=str(hall).encode(), value=raw)
            n += 1
        self.producer.flush()
        return n

    def close(self) -> None:
        self.producer.close()


def read_topic(settings: Settings, topic: str, timeout_ms: int = 3000) -> list[bytes]:
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=settings.kafka.servers, auto_offset_reset="earliest",
                      consumer_timeout_ms=timeout_ms, isolation_level="read_committed")
    try:
        return [m.value for m in c]
    finally:
        c.close()


def caught_up(settings: Settings, group: str) -> bool:
    """Whether the consumer group has committed every input message (a worker that caught up
    on its backlog, whatever restarts it went through)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.servers, group_id=group, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in settings.topics.inputs for p in range(settings.topics.partitions)]
        ends = consumer.end_offsets(parts)
        return all(ends[tp] == 0 or (consumer.committed(tp) or 0) >= ends[tp] for tp in parts)
    finally:
        consumer.close()


def produce_raw(settings: Settings, messages) -> int:
    """Send (topic_kind, key, value) messages in order, as fast as the broker takes them."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka.servers, acks="all", linger_ms=20,
                             batch_size=256 * 1024)
    n = 0
    for m in messages:
        producer.send(getattr(settings.topics, m.topic_kind), key=m.key.encode(), value=m.value)
        n += 1
    producer.flush()
    producer.close()
    return n


def alert_key(a: dict) -> tuple:
    return (a["hall_id"], a["category"], a["rule"], a["action"], a["level"], a["occurred_at"], a["opened_at"])


def alerts_well_formed(events: list[dict]) -> list[str]:
    """What a doubled or lost alert event breaks, whatever order the topics were merged in:
    each alert id opens once, escalates, closes at most once and last, and no two alerts of
    one hall, category and rule are open at the same time."""
    problems = []
    by_id: dict[str, list[dict]] = {}
    for a in events:
        by_id.setdefault(a["alert_id"], []).append(a)
    rank = {"opened": 0, "escalated": 1, "closed": 2}
    spans: dict[tuple, list[tuple[str, str]]] = {}
    for alert_id, evs in by_id.items():
        evs.sort(key=lambda a: (a["occurred_at"], rank[a["action"]]))
        actions = [a["action"] for a in evs]
        if actions.count("opened") != 1 or actions[0] != "opened" or actions.count("closed") > 1 \
                or ("closed" in actions and actions[-1] != "closed") or len(set(map(alert_key, evs))) != len(evs):
            problems.append(f"{alert_id}: {actions}")
        closed = evs[-1]["occurred_at"] if actions[-1] == "closed" else "9999"
        spans.setdefault(alert_key(evs[0])[:3], []).append((evs[0]["occurred_at"], closed))
    for key, intervals in spans.items():
        intervals.sort()
        for (_, end), (start, _) in zip(intervals, intervals[1:]):
            if start < end:
                problems.append(f"{key}: two alerts open at once ({start} before {end})")
    return problems
