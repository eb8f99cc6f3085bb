"""`make bench`: one command, one run, one table (issue 8, part 5).

Starts its own Kafka broker (the project's local KRaft broker, on free loopback ports,
data under var/bench/run/), preloads one simulated input on 4 partitions, and measures in
this one run:

1. the raw consumer ceiling: confluent-kafka consumer + json.loads over the input;
2. bare Faust: a minimal faust-streaming app, exactly-once, decode + count per hall;
3. hallpulse (a ``hallpulse sink`` and a ``hallpulse worker``), exactly-once and
   at-least-once, from the worker's first event until its consumer group has committed
   every input message and the sink has written everything; peak RSS (VmHWM) of both;
4. a Quix Streams peer (bench/peers/quix_waits.py), exactly-once, computing the
   per-hall-minute mean and count of waits with per-visit state, and hallpulse's ratio
   to it (the peer's output is checked against an independent computation);
5. produce → ``GET /api/halls/{id}/now`` latency at a steady 500 events/s;
6. worker and sink RSS with 3,000 halls holding state (generated catalogue,
   bench/gen_catalogue.py);
7. restart-to-serving after SIGKILL of that worker.

Prints the table at the end and writes it to var/bench/latest.md (all figures also to
var/bench/latest.json), with the command, the machine and the CPU that other processes
took meanwhile. ``--quick`` runs every row at a tiny size (about 2 minutes on a quiet
machine): a smoke test of the benchmark itself, not figures to quote.

    .venv/bin/python bench/run.py            # the full run (about 12 minutes)
    .venv/bin/python bench/run.py --quick    # every row, tiny sizes
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import itertools
import json
import math
import os
import platform
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
from harness import PY, Broker, Offsets, Proc, Sink, Worker, proc_cpu_s, proc_status, settle_rss, wait_for  # noqa: E402

from schemas.catalogue import Catalogue, load_catalogue  # noqa: E402
from hallpulse.simulator import generate  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
PARTITIONS = 4
KINDS = ("tickets", "transactions", "surveys")
# the event-time field of each topic, then its other instants
TIME_FIELDS = {"tickets": ("occurred_at",), "transactions": ("completed_at", "started_at"),
               "surveys": ("answered_at",)}
TARGETS = {"eos": 4000.0, "of_faust": 0.80, "rss_mb": 300.0, "p99_ms": 250.0, "restart_s": 15.0}


@dataclass(frozen=True)
class Sizes:
    input_halls: int          # the preloaded input: simulated halls ...
    input_minutes: float      # ... and minutes from 09:00 yesterday (Shanghai)
    latency_rate: float       # events/s offered in row 5
    latency_seconds: float    # how long
    latency_warmup: float     # seconds of events sent (and processed) before measuring
    latency_drain: float      # how long a worker that fell behind gets after the sending ends
    big_halls: int            # row 6: halls of the generated catalogue
    big_minutes: float        # minutes of events from 10:00 for each hall
    timeout_s: float          # per throughput row
    settle_s: float           # row 6: RSS is read once it is steady over at least this long


FULL = Sizes(36, 600, 500, 45, 10, 30, 3000, 3, 600, 5)
QUICK = Sizes(36, 15, 500, 5, 1, 5, 300, 2, 120, 2)


# ---- small helpers ----------------------------------------------------------------------

def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).isoformat(timespec="milliseconds")


def ms_of(iso_text: str) -> int:
    return int(datetime.fromisoformat(iso_text).timestamp() * 1000)


def business_day(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date().isoformat()


def pct(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cpu_busy(seconds: float = 2.0) -> float:
    """Share of the machine's CPU time that was not idle over ``seconds`` (0..1)."""
    def snap():
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(f), f[3] + f[4]  # total, idle + iowait
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def machine_info() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:")))
    versions = {}
    for dist in ("faust-streaming", "aiokafka", "kafka-python", "confluent-kafka", "quixstreams", "chdb",
                 "clickhouse-connect"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "missing"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = "?"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        rev = f"{rev}{' + uncommitted changes' if dirty else ''}"
    except OSError:
        rev = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(), "versions": versions,
            "java": java, "code": rev}


# ---- the run ------------------------------------------------------------------------------

class Bench:
    def __init__(self, sizes: Sizes, run_dir: Path, log_dir: Path, quick: bool):
        self.log_dir = log_dir
        self.sizes = sizes
        self.quick = quick
        self.run_dir = run_dir
        self.tag = uuid.uuid4().hex[:6]
        self.broker = Broker(run_dir)
        self.bootstrap = ""
        self.offsets: Offsets | None = None
        self.procs: list[Proc] = []
        self.results: dict[str, dict] = {}
        self.inputs = {k: f"bench-{self.tag}.in.{k}" for k in KINDS}
        self.catalogue = load_catalogue(ROOT / "config" / "halls.toml")
        self.n_input = 0
        self.input_info: dict = {}
        self.ends: dict = {}
        self.expected_waits: dict = {}
        self.cpu = harness.CpuMeter(self.live_pids)

    def live_pids(self) -> list[int]:
        pids = [p.pid for p in self.procs if p.alive()]
        return pids + ([self.broker.pid] if self.broker.pid else [])

    # -- infrastructure --------------------------------------------------------------
    def start(self) -> None:
        t = time.monotonic()
        self.bootstrap = self.broker.up()
        self.offsets = Offsets(self.bootstrap)
        log(f"broker up at {self.bootstrap} in {time.monotonic() - t:.1f} s (Kafka {self.broker.version})")

    def close(self, discard: bool = True) -> None:
        for p in self.procs:
            try:
                p.kill()
            except Exception:  # noqa: BLE001 - best effort at the end
                pass
        if self.offsets is not None:
            try:
                self.offsets.close()
            except Exception:  # noqa: BLE001
                pass
        self.broker.down(discard=discard)

    def spawn(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc.start()

    def topics_for(self, label: str, inputs: dict[str, str] | None = None) -> dict[str, str]:
        t = dict(inputs or self.inputs)
        t.update({k: f"bench-{self.tag}.{label}.{k}" for k in ("alerts", "deadletter", "ticks", "facts")})
        return t

    def row(self, key: str, fn, *args) -> None:
        t = time.monotonic()
        c0 = self.cpu.snapshot()
        try:
            self.results[key] = fn(*args)
        except Exception as e:  # noqa: BLE001 - one failing row must not lose the others
            traceback.print_exc()
            self.results[key] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
        c1 = self.cpu.snapshot()
        self.results[key]["other_cpu"] = round(self.cpu.other_share(c0, c1), 3)
        self.results[key]["wall_s"] = round(time.monotonic() - t, 1)
        log(f"row {key} done in {time.monotonic() - t:.1f} s: "
            f"{ {k: v for k, v in self.results[key].items() if not isinstance(v, (list, dict))} }")

    # -- the input -----------------------------------------------------------------------
    def preload(self) -> None:
        s = self.sizes
        now = datetime.now(SHANGHAI)
        start = (now - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        t = time.monotonic()
        msgs = list(generate(self.catalogue, halls=s.input_halls, minutes=s.input_minutes, seed=1, start=start))
        gen_s = time.monotonic() - t
        harness.create_topics(self.bootstrap, list(self.inputs.values()), PARTITIONS)
        t = time.monotonic()
        self.n_input = harness.produce(self.bootstrap, msgs, self.inputs)
        per_kind = {k: sum(1 for m in msgs if m.topic_kind == k) for k in KINDS}
        self.ends = self.offsets.ends(list(self.inputs.values()), PARTITIONS)
        assert sum(self.ends.values()) == self.n_input, (sum(self.ends.values()), self.n_input)
        self.input_info = {"events": self.n_input, "halls": s.input_halls, "minutes": s.input_minutes,
                           "start": start.isoformat(), "seed": 1, "per_kind": per_kind,
                           "generate_s": round(gen_s, 1), "preload_s": round(time.monotonic() - t, 1)}
        self.expected_waits = reference_waits(msgs)
        log(f"input: {self.n_input:,} events ({per_kind}) generated in {gen_s:.1f} s, preloaded in "
            f"{time.monotonic() - t:.1f} s")

    # -- row 1 ---------------------------------------------------------------------------
    def raw_consumer(self) -> dict:
        p = self.spawn(Proc([PY, str(ROOT / "bench" / "peers" / "raw_consumer.py"), "--bootstrap", self.bootstrap,
                             "--topics", ",".join(self.inputs.values()), "--expect", str(self.n_input)],
                            {}, self.log_dir / "raw.log"))
        p.proc.wait(timeout=self.sizes.timeout_s)
        lines = [ln for ln in p.log_path.read_text().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"no result from the raw consumer:\n{p.log_tail()}")
        r = json.loads(lines[-1])
        secs = r["last"] - r["first"]
        return {"events": r["n"], "events_per_s": r["n"] / secs, "seconds": secs,
                "startup_s": r["first"] - p.started}

    # -- rows 2 and 4: peers that commit ---------------------------------------------------
    def committed_run(self, name: str, argv: list[str], group: str, status: Path) -> dict:
        p = self.spawn(Proc(argv, {}, self.log_dir / f"{name}.log"))
        deadline = time.monotonic() + self.sizes.timeout_s
        st: dict = {}
        try:
            while True:
                p.check()
                try:
                    st = json.loads(status.read_text())
                except (OSError, ValueError):
                    st = {}
                if st.get("done") and self.caught_up(group):
                    t_done = time.time()
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not commit everything in {self.sizes.timeout_s:.0f} s "
                                       f"(status {st}); log:\n{p.log_tail()}")
                time.sleep(0.25 if st.get("done") else 0.1)
            rss = proc_status(p.pid)
        finally:
            p.stop()
        secs = t_done - st["first"]
        return {"events": self.n_input, "events_per_s": self.n_input / secs, "seconds": secs,
                "processed_s": st["done"] - st["first"], "startup_s": st["first"] - p.started,
                "peak_rss_mb": rss.get("VmHWM")}

    def caught_up(self, group: str, ends: dict | None = None) -> bool:
        try:
            return self.offsets.caught_up(group, self.ends if ends is None else ends)
        except Exception:  # noqa: BLE001 - e.g. a transaction's offsets not yet stable
            return False

    def bare_faust(self) -> dict:
        group = f"bench-{self.tag}-faust"
        status = self.run_dir / "faust.status.json"
        argv = [PY, str(ROOT / "bench" / "peers" / "faust_bare.py"), "--bootstrap", self.bootstrap,
                "--topics", ",".join(self.inputs.values()), "--group", group, "--expect", str(self.n_input),
                "--status", str(status), "--datadir", str(self.run_dir / "faust-bare"),
                "--partitions", str(PARTITIONS)]
        return self.committed_run("faust", argv, group, status)

    def quix(self) -> dict:
        group = f"bench-{self.tag}-quix"
        status = self.run_dir / "quix.status.json"
        out_topic = f"bench-{self.tag}.quix.waits"
        harness.create_topics(self.bootstrap, [out_topic], PARTITIONS)
        argv = [PY, str(ROOT / "bench" / "peers" / "quix_waits.py"), "--bootstrap", self.bootstrap,
                "--tickets", self.inputs["tickets"], "--transactions", self.inputs["transactions"],
                "--surveys", self.inputs["surveys"], "--output", out_topic, "--group", group,
                "--expect", str(self.n_input), "--status", str(status),
                "--state-dir", str(self.run_dir / "quix-state")]
        r = self.committed_run("quix", argv, group, status)
        r["check"] = self.check_quix_output(out_topic)
        return r

    def check_quix_output(self, topic: str) -> dict:
        """The peer's last figures per hall and minute against reference_waits()."""
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=self.bootstrap, isolation_level="read_committed",
                          enable_auto_commit=False)
        got: dict = {}
        try:
            parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            c.assign(parts)
            c.seek_to_beginning(*parts)
            ends = c.end_offsets(parts)  # read_committed: the last stable offsets
            deadline = time.monotonic() + 60
            while any(c.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
                for batch in c.poll(timeout_ms=500).values():
                    for m in batch:
                        v = json.loads(m.value)
                        got[(v["hall_id"], v["minute"])] = (v["count"], v["mean_wait_s"])
        finally:
            c.close()
        want = self.expected_waits
        bad = sorted(k for k in set(got) | set(want)
                     if k not in got or k not in want or got[k][0] != want[k][0]
                     or abs(got[k][1] - want[k][1]) > 1e-6)
        return {"hall_minutes": len(want), "waits": sum(n for n, _ in want.values()), "mismatches": len(bad),
                "ok": not bad, "examples": [(k, got.get(k), want.get(k)) for k in bad[:5]]}

    # -- row 3 ---------------------------------------------------------------------------
    def deploy(self, label: str, inputs: dict[str, str] | None = None, guarantee: str = "exactly_once",
               catalogue: Path | None = None) -> tuple[Worker, Sink]:
        """A sink (started first, as its store must be open) and a worker, on their own topics,
        consumer groups and store; config/hallpulse.toml's settings otherwise."""
        env = harness.hallpulse_env(self.bootstrap, self.run_dir / f"hp-{label}", f"bench-{self.tag}-{label}",
                                    self.topics_for(label, inputs), guarantee, catalogue, PARTITIONS)
        sink = Sink.make(env, self.log_dir / f"sink-{label}.log")
        self.spawn(sink)
        sink.wait_web()
        # a stable worker name, as a deployment gives each worker (docs/operations.md): a
        # restarted worker takes its partitions back without waiting out the killed one
        env["HALLPULSE__WORKER__INSTANCE_ID"] = f"{label}-worker-1"
        w = Worker.make(env, self.log_dir / f"worker-{label}.log")
        self.spawn(w)
        return w, sink

    def wait_done(self, w: Worker, sink: Sink, n: int, ends: dict, label: str) -> dict:
        """Poll until the worker has seen ``n`` events, its group has committed every input
        message up to ``ends`` and the sink has written everything (it stays idle, with the
        same count of messages, for longer than one of its batches). Returns the wall times:
        first event seen, all seen, all committed, all stored (when the sink's final idle
        began: the confirmation wait is not counted)."""
        deadline = time.monotonic() + self.sizes.timeout_s
        t_first = t_processed = t_committed = idle_since = None
        idle_count, seen = -1, 0
        while True:
            w.check()
            sink.check()
            now = time.time()
            try:
                seen = w.seen()
            except Exception:  # noqa: BLE001 - the web server is not up yet
                seen = 0
            if t_first is None and seen > 0:
                t_first = now
            if t_processed is None and seen >= n:
                t_processed = now
            if t_processed is not None and t_committed is None and self.caught_up(w.group, ends):
                t_committed = time.time()
            if t_committed is not None:
                idle, count = sink.idle()
                if not idle:
                    idle_since = None
                elif idle_since is None or count != idle_count:
                    idle_since, idle_count = now, count
                if idle_since is not None and now - max(idle_since, t_committed) >= SINK_STABLE_S:
                    return {"first": t_first, "processed": t_processed, "committed": t_committed,
                            "stored": max(idle_since, t_committed), "sink_messages": idle_count}
            if time.monotonic() > deadline:
                rate = seen / (now - t_first) if t_first else 0.0
                raise TimeoutError(f"hallpulse {label} not done in {self.sizes.timeout_s:.0f} s: {seen:,} of "
                                   f"{n:,} events seen ({rate:,.0f}/s), committed: {t_committed is not None}")
            time.sleep(0.1 if t_first is None else 0.25)

    def hallpulse(self, label: str, guarantee: str) -> dict:
        w, sink = self.deploy(label, guarantee=guarantee)
        try:
            t = self.wait_done(w, sink, self.n_input, self.ends, label)
            rss, sink_rss, st = proc_status(w.pid), proc_status(sink.pid), w.stats()
        finally:
            w.stop()
            sink.stop()
        secs = t["stored"] - t["first"]
        return {"events": self.n_input, "events_per_s": self.n_input / secs, "seconds": secs,
                "processed_s": t["processed"] - t["first"], "committed_s": t["committed"] - t["first"],
                "startup_s": t["first"] - w.started, "peak_rss_mb": rss.get("VmHWM"), "rss_mb": rss.get("VmRSS"),
                "sink_peak_rss_mb": sink_rss.get("VmHWM"), "engine": st.get("engine"),
                "facts_sent": st.get("facts_sent"), "sink_messages": t["sink_messages"],
                "batches": st.get("batches")}

    # -- row 5 ---------------------------------------------------------------------------
    def latency(self) -> dict:
        """Produce at a steady rate, each event stamped with its send time; probe issued
        tickets through GET /api/halls/{id}/now until the hall's `today.issued` counts them.

        A fresh exactly-once worker and sink (default settings) on their own topics. Warm-up first: the
        first ``latency_warmup`` seconds of events are sent at the same rate and the run waits
        until the worker has processed them (its consumer group has joined); then
        ``latency_seconds`` of events are sent and probed. A worker that fell behind gets
        ``latency_drain`` seconds after the sending ends."""
        s = self.sizes
        inputs = {k: f"bench-{self.tag}.lat.{k}" for k in KINDS}
        harness.create_topics(self.bootstrap, list(inputs.values()), PARTITIONS)
        w, sink = self.deploy("lat", inputs)
        w.wait_web()
        rate = s.latency_rate
        n_warm, n_main = int(rate * s.latency_warmup), int(rate * s.latency_seconds)
        start = (datetime.now(SHANGHAI) - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
        src = list(itertools.islice(generate(self.catalogue, halls=s.input_halls, minutes=600, seed=2, start=start),
                                    n_warm + n_main))
        plan = warp_plan(src, rate)
        warm, main = plan[:n_warm], plan[n_warm:]
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 1, "acks": "all"})
        probes: queue.Queue = queue.Queue()
        results: list[tuple[float, float, str]] = []  # (sent, latency, hall)
        lost: list = []
        issued: dict[tuple[str, str], int] = {}
        lag = [0.0]

        def send(items: list, probe_every: int = 0) -> tuple[float, float]:
            """Send ``items`` at the rate, event times = send times; returns (first, last) send."""
            base = items[0][3][0]
            t0 = time.time() + 0.2
            next_probe = 0
            for i, (kind, key, rec, rels) in enumerate(items):
                due = t0 + rels[0] - base
                while (left := due - time.time()) > 0:
                    time.sleep(min(left, 0.002))
                for field, rel in zip(TIME_FIELDS[kind], rels):
                    rec[field] = iso((t0 + rel - base) * 1000)
                probe = None
                if kind == "tickets" and rec.get("event_type") == "issued":
                    day = business_day((t0 + rels[0] - base) * 1000)
                    c = issued[(key, day)] = issued.get((key, day), 0) + 1
                    if probe_every and i >= next_probe:
                        probe = (key, day, c)
                        next_probe = i + probe_every
                value = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode()
                sent = time.time()
                lag[0] = max(lag[0], sent - due)
                producer.produce(inputs[kind], key=key.encode(), value=value)
                producer.poll(0)
                if probe:
                    probes.put((*probe, sent))
            producer.flush(30)
            return t0, time.time()

        sender_done, stop_probing = threading.Event(), threading.Event()
        requests = [0]
        unresolved: list = []  # the prober's outstanding probes

        def prober() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
            outstanding = unresolved
            while not stop_probing.is_set():
                while True:
                    try:
                        outstanding.append(probes.get_nowait())
                    except queue.Empty:
                        break
                if not outstanding:
                    if sender_done.is_set() and probes.empty():
                        return
                    time.sleep(0.002)
                    continue
                # one request at a time, at most one per PROBE_POLL_S, for the oldest probe's
                # hall (events are processed about in order, so the oldest probe shows first):
                # the probes' load on the worker stays bounded however far behind it is
                hall = outstanding[0][0]
                t_req = time.time()
                try:
                    conn.request("GET", f"/api/halls/{hall}/now")
                    body = conn.getresponse().read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=10)
                    continue
                t_obs = time.time()
                requests[0] += 1
                today = json.loads(body).get("today") or {}
                for p in [p for p in outstanding if p[0] == hall]:
                    if (today.get("issued") or 0) >= p[2]:
                        results.append((p[3], t_obs - p[3], hall))
                        outstanding.remove(p)
                for p in [p for p in outstanding if t_obs - p[3] > PROBE_TIMEOUT_S]:
                    lost.append(p)
                    outstanding.remove(p)
                backlog = outstanding and t_obs - outstanding[0][3] > 1.0
                time.sleep(max(0.0, (PROBE_POLL_BACKLOG_S if backlog else PROBE_POLL_S) - (time.time() - t_req)))

        t_w = time.time()
        send(warm)
        wait_for(lambda: w.seen() >= n_warm, 120, "the worker to process the warm-up events", 0.2)
        warm_s = time.time() - t_w
        th = threading.Thread(target=prober, daemon=True)
        th.start()
        cpu0 = proc_cpu_s(w.pid)
        t_first, t_last = send(main, probe_every=max(1, int(rate / PROBES_PER_S)))
        seen_at_end = w.seen()
        cpu_share = (proc_cpu_s(w.pid) - cpu0) / (time.time() - t_first)
        sender_done.set()
        # a worker that fell behind gets s.latency_drain seconds more; a probe still not
        # visible then counts with its age so far, as a lower bound
        th.join(timeout=s.latency_drain)
        stop_probing.set()
        th.join(timeout=10)
        t_end = time.time()
        stats = w.stats()
        seen_end = w.seen(stats)
        w.stop()
        sink.stop()
        # not visible yet: later than every visible one (they are the latest sent), and at
        # least as old as they are now
        seen_lat = sorted(lat for _, lat, _ in results)
        floor = seen_lat[-1] if seen_lat else 0.0
        pending = sorted((max(floor, t_end - p[3]), False) for p in list(unresolved))
        counted = [(lat, True) for lat in seen_lat] + pending + [(float("inf"), False)] * len(lost)
        if not results:
            raise RuntimeError(f"no probe became visible ({len(lost) + len(pending)} not visible)")
        send_s = t_last - t_first

        def at(q: float) -> tuple[float, bool]:
            lat, exact = pct(counted, q)
            return lat * 1000, exact

        return {"events": n_main, "rate": rate, "offered_per_s": n_main / send_s, "send_s": send_s,
                "max_send_lag_ms": lag[0] * 1000, "warmup_events": n_warm, "warmup_s": warm_s,
                "backlog_at_end": n_warm + n_main - seen_at_end,
                "worker_per_s": (seen_end - n_warm) / (t_end - t_first), "drain_s": s.latency_drain,
                "backlog_after_drain": n_warm + n_main - seen_end,
                "probes": len(counted), "not_visible": len(lost) + len(pending),
                "p50_ms": at(0.5), "p90_ms": at(0.9), "p99_ms": at(0.99), "max_ms": at(1.0),
                "poll_ms": PROBE_POLL_S * 1000, "requests_per_s": requests[0] / (t_end - t_first),
                "worker_cpu": cpu_share, "commits": stats.get("commits"),
                "batches": stats["batches"]["count"],
                # every visible probe: (seconds since the sending began, latency ms), to see when a tail happens
                "t_first": t_first, "series": [(round(sent - t_first, 3), round(lat * 1000, 1)) for sent, lat, _ in sorted(results)]}

    # -- rows 6 and 7 ----------------------------------------------------------------------
    def big(self) -> dict:
        """Worker and sink memory with every hall of a large catalogue holding state."""
        s = self.sizes
        from gen_catalogue import write_catalogue

        cat_path = write_catalogue(ROOT / "var" / "bench" / f"halls-{s.big_halls}.toml", s.big_halls)
        cat = load_catalogue(cat_path)
        msgs, window = big_events(cat, s.big_minutes)
        inputs = {k: f"bench-{self.tag}.big.{k}" for k in KINDS}
        harness.create_topics(self.bootstrap, list(inputs.values()), PARTITIONS)
        w, sink = self.deploy("big", inputs, catalogue=cat_path)
        w.wait_web()
        rss_idle = settle_rss(w.pid, at_least=s.settle_s, timeout=20)
        sink_idle = proc_status(sink.pid).get("VmRSS")
        t = time.time()
        n = harness.produce(self.bootstrap, msgs, inputs)
        ends = self.offsets.ends(list(inputs.values()), PARTITIONS)
        times = self.wait_done(w, sink, n, ends, "big")
        catch_up_s = times["stored"] - t
        rss = settle_rss(w.pid, at_least=s.settle_s, timeout=40)
        sink_rss = proc_status(sink.pid)
        st = w.stats()
        self.big_deploy = (w, sink, st.get("halls_with_state"), cat, inputs, window)
        return {"halls": s.big_halls, "events": n, "window": window, "halls_with_state": st.get("halls_with_state"),
                "rss_mb": rss, "peak_rss_mb": proc_status(w.pid).get("VmHWM"), "rss_idle_mb": rss_idle,
                "sink_rss_mb": sink_rss.get("VmRSS"), "sink_peak_rss_mb": sink_rss.get("VmHWM"),
                "sink_rss_idle_mb": sink_idle, "catch_up_s": catch_up_s,
                "catalogue": str(cat_path.relative_to(ROOT))}

    def restart(self) -> dict:
        """SIGKILL the worker of row 6 (its sink stays up), start it again, and time until
        /now answers with the state it had. Meanwhile other halls keep sending a trickle of
        events (TRICKLE_PER_S), as live halls do: a restarted worker rebuilds its live view
        from the restored tables when the first message after recovery arrives."""
        w, sink, want, cat, inputs, window = self.big_deploy
        sample = sample_halls(w, 8)
        before = {h: hall_fingerprint(w.get(f"/api/halls/{h}/now")) for h in sample}
        others = Catalogue(defaults=cat.defaults, halls=[h for h in cat.halls if h.hall_id not in set(sample)][:500])
        later = datetime.fromisoformat(window["start"]) + timedelta(minutes=window["later_minutes"])
        trickle = list(itertools.islice(generate(others, halls=len(others.halls), minutes=10, seed=3, start=later),
                                        int(TRICKLE_PER_S * 200)))
        stop = threading.Event()

        def feed() -> None:
            from confluent_kafka import Producer

            p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 1})
            for m in trickle:
                if stop.wait(1 / TRICKLE_PER_S):
                    break
                p.produce(inputs[m.topic_kind], key=m.key.encode(), value=m.value)
                p.poll(0)
            p.flush(10)

        w.kill()  # SIGKILL to the process group
        t_kill = time.time()
        w2 = w.again()
        self.spawn(w2)
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            t_web = w2.wait_web(timeout=180)

            def restored():
                st = w2.stats()
                if (st.get("halls_with_state") or 0) < want:
                    return False
                return all(hall_fingerprint(w2.get(f"/api/halls/{h}/now")) == before[h] for h in sample)

            wait_for(restored, 180, "the restarted worker to serve its restored state", interval=0.1)
            t_ok = time.time()
            rss = proc_status(w2.pid)
        finally:
            stop.set()
            feeder.join(timeout=15)
            w2.kill()  # nothing more to measure: no graceful shutdown needed
            sink.kill()
        return {"serving_s": t_ok - w2.started, "web_s": t_web - w2.started, "kill_to_start_s": w2.started - t_kill,
                "halls_with_state": want, "sample_halls": len(sample), "rss_after_mb": rss.get("VmRSS"),
                "trickle_per_s": TRICKLE_PER_S}




NOISY = 0.10  # other processes' CPU share above which a run is flagged as noisy
ROWS = ["raw", "faust", "quix", "alo", "eos", "latency", "big", "restart"]
TRICKLE_PER_S = 5.0  # row 7: events/s from other halls while the worker restarts
SINK_STABLE_S = 2.5  # longer than one sink batch ([sink].batch_seconds, 2 s by default)
PROBES_PER_S = 4
# A /now request costs the worker about 5 ms of CPU for a hall holding a day of state: poll
# a young probe every 25 ms, one older than a second (the worker is behind) every 200 ms.
PROBE_POLL_S = 0.025
PROBE_POLL_BACKLOG_S = 0.2
PROBE_TIMEOUT_S = 240.0  # a probe not visible by then counts as infinitely late


def warp_plan(src, rate: float) -> list:
    """Event i of ``src`` goes out at i / rate seconds; every instant in it is mapped by the
    same monotone piecewise-linear warp (original event times → send times), so a
    transaction's start stays before its end and a visit's steps keep their order."""
    orig = [int(m.event_time.timestamp() * 1000) for m in src]
    rel = [i / rate for i in range(len(src))]

    def warp(t: int) -> float:
        j = bisect.bisect_left(orig, t)
        if j >= len(orig):
            return rel[-1]
        if j == 0 or orig[j] == t:
            return rel[j]
        a, b = orig[j - 1], orig[j]
        return rel[j - 1] + (rel[j] - rel[j - 1]) * (t - a) / (b - a)

    plan = []
    for i, m in enumerate(src):
        rec = json.loads(m.value)
        fields = TIME_FIELDS[m.topic_kind]
        rels = [rel[i]] + [warp(ms_of(rec[f])) for f in fields[1:]]
        plan.append((m.topic_kind, m.key, rec, rels))
    return plan


def reference_waits(msgs) -> dict:
    """Per (hall, minute of the call): count and mean of first-call waits, computed straight
    from the input, to check the Quix peer's output."""
    visits: dict[str, dict] = {}
    sums: dict[tuple[str, int], list] = {}
    for m in msgs:
        if m.topic_kind != "tickets":
            continue
        ev = json.loads(m.value)
        kind = ev.get("event_type")
        if kind not in ("issued", "called"):
            continue
        v = visits.setdefault(ev["visit_id"], {})
        t = ms_of(ev["occurred_at"])
        if kind == "issued":
            v.setdefault("i", t)
        elif "c" not in v:
            v["c"] = t
        if "i" in v and "c" in v and not v.get("d"):
            v["d"] = True
            k = (ev["hall_id"], v["c"] // 60_000 * 60_000)
            s = sums.setdefault(k, [0, 0.0])
            s[0] += 1
            s[1] += (v["c"] - v["i"]) / 1000
    return {k: (n, total / n) for k, (n, total) in sums.items()}


def big_events(cat: Catalogue, minutes: float) -> tuple[list, dict]:
    """Recent events for every hall of ``cat``: each hall's first ``minutes`` from 10:00
    (Shanghai) of the latest day on which that window has passed; halls that drew no event
    in it (small ones) get the first 6x as many minutes, then 12x, …, so every hall has
    state."""
    longest = minutes * 24
    now = datetime.now(SHANGHAI)
    start = now.replace(hour=10, minute=0, second=0, microsecond=0)
    if start + timedelta(minutes=longest + 15) > now:  # row 7 sends 10 more minutes
        start -= timedelta(days=1)
    msgs = list(generate(cat, halls=len(cat.halls), minutes=minutes, seed=1, start=start))
    have = {m.key for m in msgs}
    quiet = [h for h in cat.halls if h.hall_id not in have]
    extended, factor = {}, 6
    while quiet and factor <= 24:
        sub = Catalogue(defaults=cat.defaults, halls=quiet)
        more = list(generate(sub, halls=len(quiet), minutes=minutes * factor, seed=1, start=start))
        msgs += more
        extended[minutes * factor] = len({m.key for m in more})
        have |= {m.key for m in more}
        quiet = [h for h in quiet if h.hall_id not in have]
        factor *= 2
    msgs.sort(key=lambda m: m.event_time)
    return msgs, {"start": start.isoformat(), "minutes": minutes, "extended": extended,
                  "quiet_halls": sum(extended.values()), "quiet_minutes": max(extended, default=minutes),
                  "later_minutes": longest, "halls_with_events": len(have)}


def sample_halls(w: Worker, k: int) -> list[str]:
    halls = [h["hall_id"] for h in w.get("/api/halls", timeout=30)["halls"] if h.get("as_of")]
    step = max(1, len(halls) // k)
    return halls[::step][:k]


def hall_fingerprint(now: dict) -> tuple:
    """What a restored hall must show again: its clock and today's counts."""
    today = now.get("today") or {}
    return (now.get("as_of"), today.get("issued"), today.get("served"), today.get("abandoned"))


# ---- the table ---------------------------------------------------------------------------

def batch_size(lat: dict) -> str:
    """Events per batch of the worker's agent in row 5 (warm-up included)."""
    n = lat.get("batches")
    return f" in {n:,} batches (mean {(lat['events'] + lat['warmup_events']) / n:.1f} events)" if n else ""


def commit_detail(c: dict | None) -> str:
    """The worker's exactly-once commits (its sends wait while one runs)."""
    if not c or not c.get("count"):
        return ""
    return (f"; {c['count']:,} commits of the worker's transactions, mean {c['total_s'] / c['count'] * 1000:.0f} ms, "
            f"longest {c['max_s'] * 1000:.0f} ms (the agent's sends wait meanwhile)")


def failed(x: dict) -> str:
    return f"failed: {x['error']}" if x.get("error") else "not run"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "not met")


def render(b: Bench, info: dict, command: str, started: datetime, total_s: float, busy: float,
           other: float) -> str:
    r = b.results
    inp = b.input_info
    v = info["versions"]

    rows = []
    raw, faust, quix = r.get("raw", {}), r.get("faust", {}), r.get("quix", {})
    eos, alo, lat, big, rst = r.get("eos", {}), r.get("alo", {}), r.get("latency", {}), r.get("big", {}), r.get("restart", {})

    def rate_cell(x: dict) -> str:
        return f"**{fmt_int(x['events_per_s'])} events/s**" if "events_per_s" in x else failed(x)

    rows.append(("1", "raw consumer ceiling: confluent-kafka consumer + `json.loads`", rate_cell(raw),
                 f"{raw['events']:,} events in {raw['seconds']:.2f} s (first → last message)" if "seconds" in raw else "",
                 "–"))
    rows.append(("2", "bare Faust, exactly-once: decode + count per hall", rate_cell(faust),
                 f"{faust.get('seconds', 0):.1f} s first event → all committed; start → first event "
                 f"{faust.get('startup_s', 0):.1f} s; peak RSS {faust.get('peak_rss_mb') or 0:.0f} MB" if "seconds" in faust else "",
                 "–"))
    if "events_per_s" in eos and "events_per_s" in faust:
        of_faust = eos["events_per_s"] / faust["events_per_s"]
        eos_ok = eos["events_per_s"] >= TARGETS["eos"] and of_faust >= TARGETS["of_faust"]
        # like for like with row 2 (first event → all committed, no sink): the worker alone
        worker_rate = eos["events"] / eos["committed_s"] if eos.get("committed_s") else None
        eos_of = f"{of_faust:.0%} of bare Faust" + (
            f" (the worker alone, first event → all committed: {fmt_int(worker_rate)} events/s, "
            f"{worker_rate / faust['events_per_s']:.0%})" if worker_rate else "") + "; "
    else:
        of_faust, eos_ok, eos_of = None, None, ""

    def hp_detail(x: dict) -> str:
        if "seconds" not in x:
            return ""
        return (f"{x['seconds']:.1f} s first event → all committed and stored by the sink (all processed at "
                f"{x['processed_s']:.1f} s, committed at {x['committed_s']:.1f} s); start → first event "
                f"{x['startup_s']:.1f} s; peak RSS worker {x['peak_rss_mb']:.0f} MB, sink {x['sink_peak_rss_mb']:.0f} MB"
                + batch_detail(x))

    def batch_detail(x: dict) -> str:
        b = x.get("batches") or {}
        if not b.get("count"):
            return ""
        n = x["events"]
        return (f"; {b['count']:,} batches (mean {n / b['count']:.0f} events): engine {b['engine_s'] / n * 1e6:.0f} µs "
                f"and sending {b['send_s'] / n * 1e6:.0f} µs per event")

    rows.append(("3a", "hallpulse worker (+ sink), exactly-once", rate_cell(eos), eos_of + hp_detail(eos),
                 f"≥ {fmt_int(TARGETS['eos'])} events/s and ≥ 80 % of bare Faust: {verdict(eos_ok)}"))
    rows.append(("3b", "hallpulse worker (+ sink), at-least-once", rate_cell(alo), hp_detail(alo), "–"))
    if "seconds" in quix:
        chk = quix.get("check", {})
        same = "equal to" if chk.get("ok") else f"DIFFERENT ({chk.get('mismatches')} hall-minutes) from"
        check = (f"output checked: {chk.get('hall_minutes', 0):,} hall-minutes ({chk.get('waits', 0):,} waits) "
                 f"{same} an independent computation")
        ratio = eos["events_per_s"] / quix["events_per_s"] if "events_per_s" in eos else None
        b.results["quix"]["hallpulse_ratio"] = ratio
        ratio_txt = f"hallpulse exactly-once = **{ratio:.2f}×** the peer; " if ratio is not None else ""
        quix_detail = (f"{ratio_txt}{quix['seconds']:.1f} s first event → all committed; start → first event "
                       f"{quix['startup_s']:.1f} s; {check}")
        quix_target = f"moonshot ≥ 1.0×: {verdict(ratio >= 1.0 if ratio is not None else None)}"
    else:
        quix_detail, quix_target = "", "moonshot ≥ 1.0×"
    rows.append(("4", "Quix Streams peer, exactly-once: per-hall-minute waits with per-visit state "
                      "(`bench/peers/quix_waits.py`)", rate_cell(quix), quix_detail, quix_target))
    if "p99_ms" in lat:
        def ms(v) -> str:
            value, exact = v
            text = f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"
            return text if exact else f"> {text}"

        p99 = lat["p99_ms"]
        behind = (f"; still {lat['backlog_after_drain']:,} events behind {lat['drain_s']:g} s after the sending "
                  f"ended, when probing stopped (a probe not visible then counts with its age, as a lower bound)"
                  if lat["not_visible"] else "")
        rows.append(("5", f"produce → `/api/halls/{{id}}/now` latency at a steady {fmt_int(lat['rate'])} events/s",
                     f"**p50 {ms(lat['p50_ms'])}, p99 {ms(p99)}**",
                     f"p90 {ms(lat['p90_ms'])}, max {ms(lat['max_ms'])}; {lat['probes']} probes (issued tickets, "
                     f"{PROBES_PER_S}/s, {lat['not_visible']} not visible by the end); {lat['events']:,} events offered "
                     f"at {lat['offered_per_s']:.0f}/s over {lat['send_s']:.0f} s after {lat['warmup_events']:,} "
                     f"warm-up events; the worker processed {lat['worker_per_s']:.0f}/s using "
                     f"{lat['worker_cpu']:.0%} of a core{batch_size(lat)}, {lat['backlog_at_end']:,} events behind when the sending "
                     f"ended{behind}{commit_detail(lat.get('commits'))}; a fresh exactly-once worker and sink with "
                     f"the default settings",
                     f"p99 ≤ {TARGETS['p99_ms']:.0f} ms: {verdict(p99[1] and p99[0] <= TARGETS['p99_ms'])}"))
    else:
        rows.append(("5", "produce → `/api/halls/{id}/now` latency at 500 events/s", failed(lat), "",
                     f"p99 ≤ {TARGETS['p99_ms']:.0f} ms"))
    if "rss_mb" in big:
        win = big["window"]
        rows.append(("6", f"worker and sink RSS with {big['halls']:,} halls live",
                     f"**worker {big['rss_mb']:.0f} MB**, sink {big['sink_rss_mb']:.0f} MB",
                     f"VmRSS after settling; {big['halls_with_state']:,} halls with state from {big['events']:,} events "
                     f"(each hall's first {win['minutes']:g} min from {win['start'][:16]}; halls with none in them: "
                     f"{', '.join(f'{n} their first {m:g} min' for m, n in win['extended'].items()) or 'none'}); "
                     f"before the events: "
                     f"worker {big['rss_idle_mb']:.0f} MB, sink {big['sink_rss_idle_mb']:.0f} MB; peak: worker "
                     f"{big['peak_rss_mb']:.0f} MB, sink {big['sink_peak_rss_mb']:.0f} MB; caught up and stored in "
                     f"{big['catch_up_s']:.0f} s",
                     f"worker ≤ {TARGETS['rss_mb']:.0f} MB: {verdict(big['rss_mb'] <= TARGETS['rss_mb'])}"))
    else:
        rows.append(("6", "worker and sink RSS with 3,000 halls live", failed(big), "", "worker ≤ 300 MB"))
    if "serving_s" in rst:
        rows.append(("7", "restart-to-serving after SIGKILL", f"**{rst['serving_s']:.1f} s**",
                     f"the worker of row 6 killed (its sink stays up) and started again while other halls send "
                     f"{rst['trickle_per_s']:g} events/s: start → `/now` answers "
                     f"with the restored state ({rst['halls_with_state']:,} halls; "
                     f"{rst['sample_halls']} halls' clock and today's counts equal to before the kill); "
                     f"web server up at {rst['web_s']:.1f} s",
                     f"≤ {TARGETS['restart_s']:.0f} s: {verdict(rst['serving_s'] <= TARGETS['restart_s'])}"))
    else:
        rows.append(("7", "restart-to-serving after SIGKILL", failed(rst), "", "≤ 15 s"))

    busy_rows = [f"{k} {v['other_cpu']:.0%}" for k, v in r.items() if v.get("other_cpu", 0) > NOISY]
    noisy = (f". **Not a quiet machine: figures are low and noisy** (other processes' share by row: "
             f"{', '.join(busy_rows)})" if busy_rows or other > NOISY else "")
    mode = "QUICK (tiny sizes: checks the benchmark runs, figures not to quote)" if b.quick else "full"
    lines = [
        f"# hallpulse benchmark, {started:%Y-%m-%d %H:%M} UTC ({mode})",
        "",
        f"- command: `{command}` (one run: {total_s / 60:.1f} min)",
        f"- machine: {info['cpu']}, {info['cores']} cores, {info['mem_gib']} GiB, Linux {info['kernel']}; "
        f"other processes used {other:.0%} of its CPU during the run ({busy:.0%} just before it){noisy}",
        f"- software: Python {info['python']}, faust-streaming {v['faust-streaming']}, aiokafka {v['aiokafka']}, "
        f"kafka-python {v['kafka-python']}, confluent-kafka {v['confluent-kafka']}, quixstreams {v['quixstreams']}, "
        f"chDB {v['chdb']}; Apache Kafka {b.broker.version} (local KRaft broker, one node; {info['java']}); "
        f"hallpulse {info['code']}",
        f"- input (rows 1–4): {inp.get('events', 0):,} simulated events ({inp.get('halls')} halls × "
        f"{inp.get('minutes', 0):g} min from {str(inp.get('start', ''))[:16]}, seed 1: "
        f"{', '.join(f'{k} {n:,}' for k, n in inp.get('per_kind', {}).items())}), preloaded on "
        f"{PARTITIONS} partitions per topic; each row reads all of it with its own consumer group",
        "",
        "| # | measurement | result | detail | target (issue 8) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every row at a tiny size (a smoke test, < 2 min)")
    ap.add_argument("--out", type=Path, default=None, help="markdown table (default var/bench/latest.md, "
                                                           "var/bench/quick.md with --quick)")
    ap.add_argument("--keep", action="store_true", help="keep var/bench/run/ (broker data, stores)")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"a subset of {','.join(ROWS)} (to debug one row)")
    a = ap.parse_args()
    want = set(a.rows.split(","))
    if "restart" in want:
        want.add("big")
    sizes = QUICK if a.quick else FULL
    out = a.out or ROOT / "var" / "bench" / ("quick.md" if a.quick else "latest.md")
    command = os.environ.get("BENCH_COMMAND") or " ".join(
        shlex.quote(x) for x in [os.path.relpath(PY, ROOT), os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    run_dir, log_dir = ROOT / "var" / "bench" / "run", ROOT / "var" / "bench" / "logs"
    for d in (run_dir, log_dir):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    info = machine_info()
    busy = cpu_busy(1.0 if a.quick else 2.0)
    log(f"bench ({'quick' if a.quick else 'full'}): {info['cores']} cores, CPU busy before start {busy:.0%}")
    if busy > NOISY:
        log("warning: the machine is busy with other processes: figures will be low and noisy")
    b = Bench(sizes, run_dir, log_dir, a.quick)
    failed = False
    c_start = b.cpu.snapshot()
    c_end = None
    try:
        b.start()
        if want & {"raw", "faust", "quix", "alo", "eos"}:
            b.preload()
        steps = {"raw": (b.raw_consumer,), "faust": (b.bare_faust,), "quix": (b.quix,),
                 "alo": (b.hallpulse, "alo", "at_least_once"), "eos": (b.hallpulse, "eos", "exactly_once"),
                 "latency": (b.latency,), "big": (b.big,), "restart": (b.restart,)}
        for key in ROWS:
            if key not in want:
                continue
            if key == "restart" and not hasattr(b, "big_deploy"):
                b.results["restart"] = {"error": "no worker with state (row 6 failed)"}
                continue
            b.row(key, *steps[key])
    except Exception:  # noqa: BLE001 - the broker or the input failed: report what there is
        traceback.print_exc()
        failed = True
    finally:
        c_end = b.cpu.snapshot()
        b.close(discard=not a.keep)
    other = b.cpu.other_share(c_start, c_end)
    total = time.monotonic() - t0
    table = render(b, info, command, started, total, busy, other)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(
        {"started": started.isoformat(), "command": command, "total_s": round(total, 1), "machine": info,
         "cpu_busy_before": busy, "other_cpu": other, "sizes": sizes.__dict__, "input": b.input_info,
         "results": b.results}, indent=2, default=str), encoding="utf-8")
    if not a.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    print()
    print(table)
    print(f"written to {os.path.relpath(out, ROOT)} (and .json); logs in {os.path.relpath(log_dir, ROOT)}/; "
          f"total {total / 60:.1f} min")
    errors = [k for k, v in b.results.items() if "error" in v]
    sys.exit(1 if failed or errors else 0)


if __name__ == "__main__":
    main()
