"""What `make bench` (bench/run.py) runs things with: a local broker on free ports, topics,
worker processes, peer processes, committed offsets, process memory.

Self-contained on purpose (it does not import tests/): the benchmark must keep working
while the test harness changes. The ideas are the same as tests/pipeline.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll ``predicate`` until it returns something true; errors count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except ProcessExited:
            raise
        except Exception as e:  # noqa: BLE001 - not up yet
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


class ProcessExited(RuntimeError):
    pass


# ---- process memory ----------------------------------------------------------------------

def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB; {} when it is gone."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def proc_cpu_s(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, in seconds."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def settle_rss(pid: int, *, at_least: float = 5.0, timeout: float = 40.0, tolerance: float = 0.01) -> float:
    """VmRSS once it stopped moving: sampled every half second, settled when the last five
    samples differ by less than ``tolerance`` (relative), after at least ``at_least`` seconds."""
    t0 = time.monotonic()
    samples: list[float] = []
    while True:
        rss = proc_status(pid).get("VmRSS")
        if rss is None:
            raise ProcessExited(f"process {pid} is gone")
        samples.append(rss)
        last = samples[-5:]
        elapsed = time.monotonic() - t0
        if elapsed >= at_least and len(last) == 5 and (max(last) - min(last)) <= tolerance * max(last):
            return rss
        if elapsed >= timeout:
            return rss
        time.sleep(0.5)


class CpuMeter:
    """How much CPU other processes (not this one and its children, not the broker) took:
    the machine's busy time from /proc/stat minus ours, over an interval."""

    def __init__(self, live_pids):
        self.live_pids = live_pids  # callable: the pids of our running children (workers, broker)
        self.tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> tuple[float, float, float]:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        busy = (sum(f[:8]) - f[3] - f[4]) / self.tick  # all but idle and iowait (guest is in user)
        t = os.times()
        mine = t.user + t.system + t.children_user + t.children_system
        mine += sum(c for c in (proc_cpu_s(pid) for pid in self.live_pids()) if c)
        return time.monotonic(), busy, mine

    @staticmethod
    def other_share(a: tuple, b: tuple) -> float:
        """Share of all cores that other processes used between two snapshots (0..1)."""
        wall = (b[0] - a[0]) * (os.cpu_count() or 1)
        return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / wall) if wall > 0 else 0.0

    @staticmethod
    def mine_share(a: tuple, b: tuple) -> float:
        wall = (b[0] - a[0]) * (os.cpu_count() or 1)
        return (b[2] - a[2]) / wall if wall > 0 else 0.0


# ---- the broker --------------------------------------------------------------------------

@dataclass
class Broker:
    """The project's local KRaft broker (hallpulse.kafka_local) on free loopback ports,
    with its data under ``var_dir``; the jars are shared with var/kafka/libs."""

    var_dir: Path
    settings: object = None
    bootstrap: str = ""

    def up(self) -> str:
        from hallpulse import kafka_local
        from hallpulse.config import KafkaSettings, Settings

        shared = ROOT / "var" / "kafka" / "libs"
        if not shared.exists():
            kafka_local.fetch_jars(kafka_local.BrokerPaths(ROOT / "var" / "kafka"))
        kdir = self.var_dir / "kafka"
        kdir.mkdir(parents=True, exist_ok=True)
        if not (kdir / "libs").exists():
            (kdir / "libs").symlink_to(shared)
        self.settings = Settings(var_dir=self.var_dir,
                                 kafka=KafkaSettings(local_port=free_port(), controller_port=free_port()))
        self.bootstrap = kafka_local.up(self.settings, wait=120)
        return self.bootstrap

    def down(self, discard: bool = False) -> None:
        """Stop the broker; ``discard``: its data is thrown away next, so SIGKILL it rather
        than wait for a clean shutdown."""
        from hallpulse import kafka_local

        if self.settings is None:
            return
        pid = self.pid
        if discard and pid:
            try:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and \
                        Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
                    time.sleep(0.1)
            except (OSError, IndexError):
                pass
            (self.var_dir / "kafka" / "broker.pid").unlink(missing_ok=True)
            return
        kafka_local.down(self.settings)

    @property
    def pid(self) -> int | None:
        try:
            return int((self.var_dir / "kafka" / "broker.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def version(self) -> str:
        jars = sorted((ROOT / "var" / "kafka" / "libs").glob("kafka_2.13-*.jar"))
        return jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "?"


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def produce(bootstrap: str, messages, topic_of: dict[str, str]) -> int:
    """Send SimMessages (kind, key, value) in order, as fast as the broker takes them.

    Idempotent, so that a retried request cannot land after the next one: without it a
    partition's order could differ from ``messages`` when the busy broker made the producer
    retry, and the Quix peer's check (row 4), computed in ``messages`` order, then found a
    visit's later call before its first one."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 512 * 1024,
                  "acks": "all", "enable.idempotence": True, "compression.type": "none",
                  "queue.buffering.max.messages": 1_000_000})
    n = 0
    errors: list = []

    def cb(err, _msg):
        if err is not None:
            errors.append(err)

    for m in messages:
        while True:
            try:
                p.produce(topic_of[m.topic_kind], key=m.key.encode(), value=m.value, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            p.poll(0)
    left = p.flush(60)
    if left or errors:
        raise RuntimeError(f"{left} messages not delivered, errors: {errors[:3]}")
    return n


class Offsets:
    """Committed offsets of consumer groups against the end offsets of topics (one admin
    client, one request per check: cheap enough to poll while a benchmark runs)."""

    def __init__(self, bootstrap: str):
        from kafka import KafkaAdminClient, KafkaConsumer

        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    def ends(self, topics: list[str], partitions: int) -> dict:
        from kafka import TopicPartition

        return self.consumer.end_offsets([TopicPartition(t, p) for t in topics for p in range(partitions)])

    def caught_up(self, group: str, ends: dict) -> bool:
        """Whether ``group`` has committed every message up to ``ends``."""
        if hasattr(self.admin, "list_group_offsets"):  # kafka-python 3
            committed = self.admin.list_group_offsets({group: list(ends)}).get(group, {})
        else:  # kafka-python 2
            committed = self.admin.list_consumer_group_offsets(group, partitions=list(ends))
        for tp, end in ends.items():
            if end == 0:
                continue
            meta = committed.get(tp)
            if meta is None or meta.offset is None or meta.offset < 0 or meta.offset < end:
                return False
        return True

    def close(self) -> None:
        self.admin.close()
        self.consumer.close()


# ---- processes ---------------------------------------------------------------------------

@dataclass
class Proc:
    """A child process in its own session (killed as a group), with its log in a file."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0

    def start(self) -> "Proc":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.started = time.time()
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env={**os.environ, **self.env, "PYTHONPATH": pythonpath},
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ProcessExited(f"{self.argv[1:3]} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL, wait: float = 30) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Service(Proc):
    """A ``hallpulse worker`` or ``hallpulse sink`` process with its own web port."""

    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self.get("/api/stats")

    def wait_web(self, timeout: float = 120) -> float:
        """Until the web server answers; returns the wall time it first did."""
        def up():
            self.check()
            return self.get("/internal/ping", timeout=2).get("ok")
        wait_for(up, timeout, f"the {self.argv[-1]}'s web server", interval=0.1)
        return time.time()

    def again(self) -> "Service":
        """The same process once more (same env, port and log), not started."""
        return type(self)(self.argv, dict(self.env), self.log_path, port=self.port)


def hallpulse_env(bootstrap: str, var_dir: Path, tag: str, topics: dict[str, str], guarantee: str = "exactly_once",
                  catalogue: Path | None = None, partitions: int = 4) -> dict[str, str]:
    """One hallpulse deployment (workers + sink) on its own topics, groups and store; the
    defaults of config/hallpulse.toml otherwise."""
    env = {
        "KAFKA_BOOTSTRAP": bootstrap,
        "HALLPULSE_CONFIG": str(ROOT / "config" / "hallpulse.toml"),
        "HALLPULSE__VAR_DIR": str(var_dir),
        "HALLPULSE__LOG_FORMAT": "json",
        "HALLPULSE__WORKER__APP_ID": f"{tag}-worker",
        "HALLPULSE__SINK__GROUP_ID": f"{tag}-sink",
        "HALLPULSE__WORKER__PROCESSING_GUARANTEE": guarantee,
        "HALLPULSE__TOPICS__PARTITIONS": str(partitions),
    }
    for kind, name in topics.items():
        env[f"HALLPULSE__TOPICS__{kind.upper()}"] = name
    if catalogue is not None:
        env["HALLPULSE__CATALOGUE_FILE"] = str(catalogue)
    return env


@dataclass
class Worker(Service):
    """``hallpulse worker``: the Faust app, the live API."""

    @classmethod
    def make(cls, env: dict[str, str], log_path: Path) -> "Worker":
        w = cls([PY, "-m", "hallpulse", "worker"], dict(env), log_path)
        w.env["HALLPULSE__WORKER__WEB_PORT"] = str(w.port)
        return w

    @property
    def group(self) -> str:
        return self.env["HALLPULSE__WORKER__APP_ID"]

    def seen(self, stats: dict | None = None) -> int:
        """Messages through the engine: processed + duplicates + dead letters."""
        c = (stats or self.stats())["engine"]
        return c.get("processed", 0) + c.get("duplicates", 0) + c.get("dead_letters", 0)


@dataclass
class Sink(Service):
    """``hallpulse sink``: the store's only owner, fed by the facts and alerts topics."""

    @classmethod
    def make(cls, env: dict[str, str], log_path: Path) -> "Sink":
        k = cls([PY, "-m", "hallpulse", "sink"], dict(env), log_path)
        k.env["HALLPULSE__SINK__WEB_PORT"] = str(k.port)
        return k

    def idle(self) -> tuple[bool, int]:
        """(read everything committed so far and written it, messages written in all)."""
        s = self.stats()["sink"]
        return s.get("lag") == 0 and not s.get("writing"), s.get("messages", 0)
