"""A single-node KRaft Apache Kafka broker on loopback, built from Maven Central jars.

No Docker engine runs on our machines, so ``hallpulse kafka up`` provisions the broker
itself: Maven copies the ``kafka_2.13`` jars into ``var/kafka/libs`` (once), the storage
is formatted (once), and ``kafka.Kafka`` runs in the background with its pid in
``var/kafka/broker.pid``. Every step is idempotent. With ``KAFKA_BOOTSTRAP`` set none of
this runs: that cluster is used as it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hallpulse.config import PROJECT_ROOT, Settings
from hallpulse.errors import OperatorError, no_broker
from hallpulse.logs import get_logger

log = get_logger(__name__)

INFRA = PROJECT_ROOT / "infra" / "kafka"


class KafkaSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BrokerPaths:
    root: Path

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def properties(self) -> Path:
        return self.root / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "broker.log"


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise KafkaSetupError(f"{tool} is not installed: {hint}")
    return path


def fetch_jars(paths: BrokerPaths) -> None:
    """Copy the broker's jars from Maven Central, unless already there."""
    if paths.libs.exists() and any(paths.libs.glob("kafka_2.13-*.jar")):
        return
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven) or set KAFKA_BOOTSTRAP to an existing cluster")
    _require("java", "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or set KAFKA_BOOTSTRAP")
    tmp = paths.root / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    log.info("kafka.fetch_jars", into=str(paths.libs))
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(INFRA / "pom.xml"), "dependency:copy-dependencies",
         f"-DoutputDirectory={tmp}"],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise KafkaSetupError(f"Maven could not fetch the Kafka jars:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    tmp.rename(paths.libs)


def write_properties(settings: Settings, paths: BrokerPaths) -> None:
    k = settings.kafka
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{k.local_host}:{k.controller_port}",
        "listeners": f"PLAINTEXT://{k.local_host}:{k.local_port},CONTROLLER://{k.local_host}:{k.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{k.local_host}:{k.local_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(paths.data),
        # topics are created explicitly with their configured partition counts: a topic
        # auto-created with the wrong count breaks Faust's co-partitioning.
        "auto.create.topics.enable": "false",
        "num.partitions": str(settings.topics.partitions),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
    }
    paths.properties.write_text("".join(f"{key}={v}\n" for key, v in props.items()))


def _java_cmd(paths: BrokerPaths, main: str, *args: str, heap: str = "256m") -> list[str]:
    return ["java", f"-Xmx{heap}", "-cp", f"{paths.libs}/*",
            f"-Dlog4j.configuration=file:{INFRA / 'log4j.properties'}", main, *args]


def format_storage(paths: BrokerPaths) -> None:
    if (paths.data / "meta.properties").exists():
        return
    paths.data.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(_java_cmd(paths, "kafka.tools.StorageTool", "format", "-t", cluster_id(),
                                    "-c", str(paths.properties)), capture_output=True, text=True)
    if proc.returncode != 0:
        raise KafkaSetupError(f"formatting the broker storage failed:\n{proc.stdout}{proc.stderr}")


def cluster_id() -> str:
    """A base64url UUID, as Kafka's ``random-uuid`` gives (no JVM start needed). One that
    starts with '-' would be read as an option by the storage tool: draw again."""
    import base64

    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _pid(paths: BrokerPaths) -> int | None:
    try:
        pid = int(paths.pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@contextmanager
def quiet_kafka_logs():
    """kafka-python logs each failed connection attempt as a warning: a probe that expects
    them says what they mean in one line instead (``hallpulse --debug`` shows them)."""
    logger = logging.getLogger("kafka")
    before = logger.level
    if logger.getEffectiveLevel() > logging.DEBUG:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(before)


def any_reachable(servers: str, timeout: float = 1.0) -> bool:
    """True when at least one of the bootstrap addresses accepts a TCP connection."""
    for address in servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            continue
    return False


def broker_ready(servers: str, timeout: float = 3.0) -> bool:
    """True when the cluster answers a metadata request within ``timeout`` seconds."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    if not any_reachable(servers, min(timeout, 1.0)):
        return False  # refused or unroutable: no need to let a Kafka client retry
    ms = int(timeout * 1000)
    with quiet_kafka_logs():
        try:
            admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=ms, bootstrap_timeout_ms=ms)
        except (KafkaError, OSError, ValueError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()


def require_broker(settings: Settings, timeout: float = 3.0) -> None:
    """Fail in a few seconds, with the next step, when no broker answers (a Kafka client
    left to itself retries for 30 s and then raises from its IO thread)."""
    if not broker_ready(settings.kafka.servers, timeout):
        raise OperatorError(no_broker(settings))


def up(settings: Settings, wait: float = 90.0) -> str:
    """Start the local broker if it is not running; return its bootstrap address."""
    if not settings.kafka.uses_local_broker:
        log.info("kafka.external", bootstrap=settings.kafka.servers)
        return settings.kafka.servers
    paths = BrokerPaths(settings.kafka_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    k = settings.kafka
    if _pid(paths) and broker_ready(k.servers):
        return k.servers
    if port_open(k.local_host, k.local_port) and not _pid(paths):
        raise KafkaSetupError(f"port {k.local_port} is taken by another process; set [kafka].local_port or KAFKA_BOOTSTRAP")
    _require("java", "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or set KAFKA_BOOTSTRAP")
    fetch_jars(paths)
    write_properties(settings, paths)
    format_storage(paths)
    if not _pid(paths):
        logf = open(paths.log_file, "ab")
        proc = subprocess.Popen(_java_cmd(paths, "kafka.Kafka", str(paths.properties), heap=k.heap),
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        paths.pid_file.write_text(str(proc.pid))
        log.info("kafka.starting", pid=proc.pid, bootstrap=k.servers)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not _pid(paths):
            tail = paths.log_file.read_text(errors="replace")[-3000:]
            raise KafkaSetupError(f"the broker exited during start; last log lines:\n{tail}")
        if port_open(k.local_host, k.local_port) and broker_ready(k.servers):
            log.info("kafka.ready", bootstrap=k.servers)
            return k.servers
        time.sleep(0.5)
    raise KafkaSetupError(f"the broker did not become ready within {wait:.0f}s; see {paths.log_file}")


def down(settings: Settings, wait: float = 30.0) -> bool:
    """Stop the local broker; True if one was running."""
    paths = BrokerPaths(settings.kafka_dir)
    pid = _pid(paths)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _pid(paths):
        time.sleep(0.3)
    if _pid(paths):
        os.kill(pid, signal.SIGKILL)
    paths.pid_file.unlink(missing_ok=True)
    return True


def status(settings: Settings) -> dict:
    paths = BrokerPaths(settings.kafka_dir)
    servers = settings.kafka.servers
    return {
        "mode": "local" if settings.kafka.uses_local_broker else "external",
        "bootstrap": servers,
        "pid": _pid(paths) if settings.kafka.uses_local_broker else None,
        "ready": broker_ready(servers),
        "data": str(paths.data) if settings.kafka.uses_local_broker else None,
    }


def ensure_topics(settings: Settings, changelogs: Iterable[str] = ()) -> dict[str, str]:
    """Create the configured topics that do not exist yet; report each one's state.

    ``changelogs``: the worker's table changelog topics, created compacted with the same
    partition count. Faust declares them itself at start-up, but a worker whose consumer
    subscribed before a changelog existed ignores that topic until its metadata is
    refreshed (minutes): its assignment lacks the topic, the first write to the table
    fails (``PartitionsMismatch``, a ``KeyError`` on the transactional path) and the
    worker crashes. Seen with two workers starting on a busy machine."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = settings.topics.all()
    compacted = {name: settings.topics.partitions for name in changelogs}
    wanted.update(compacted)
    require_broker(settings)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.servers)
    try:
        existing = set(admin.list_topics())
        result = {}
        new = [NewTopic(name, parts, settings.topics.replication,
                        topic_configs={"cleanup.policy": "compact"} if name in compacted else {})
               for name, parts in wanted.items() if name not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
        for name in wanted:
            result[name] = "exists" if name in existing else "created"
        described = admin.describe_topics(list(wanted))
        for d in described:
            name = d.get("name") or d.get("topic")  # the key differs across kafka-python versions
            n = len(d["partitions"])
            if n != wanted[name]:
                result[name] = f"has {n} partitions, configured {wanted[name]}"
        return result
    finally:
        admin.close()
