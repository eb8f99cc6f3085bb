"""Trial: hostile input through the real topics (issue 10 parts 5 and 6).

A seeded simulator morning of two halls goes to a real worker and sink with every kind of
tests/hostile.py sent between each hall's own events (same key, so the same partition),
each stamped with its neighbour's event time. Then:

* the worker and the sink never exited;
* every bad message is in the dead-letter topic with its reason code, a reason, and no
  clear phone or ID number; nothing else is there;
* the stored day figures equal the independent oracle's (tests/month/oracle.py) over the
  same messages: the valid neighbours, and the hostile messages that are valid events,
  count exactly once, the bad ones not at all;
* a 5 MB message is refused by Kafka at the producer (the broker's and producer's 1 MB
  limit): it never reaches the worker; the 600 kB one that Kafka takes is a ``too_large``
  dead letter holding an excerpt;
* a third hall's waiting ticket numbered with HTML and script is shown on the worker's
  lobby page in headless Chromium as literal text: no element made of it, no script run;
* the customer data sweep (tests/chaos/pii_sweep.py) finds no clear number in the store,
  the logs, the dead letters, the API or the lobby DOM.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone

from hallpulse import kafka_local, simulator
from hallpulse.config import Settings
from schemas.catalogue import load_catalogue
from streams.engine import DeadLetter
from tests.chaos.harness import judged
from tests.chaos.pii_sweep import Sweep, sweep_all
from tests.chaos.trials import trial
from tests.hostile import ACCEPTED, HTML, SCRIPT, Hostile, catalogue, clear_numbers
from tests.month import oracle
from tests.pipeline import WorkerProcess, caught_up, produce_raw, read_topic, wait_for, worker_env

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
MINUTES = 150
PAIRED = ("first_of_a_pair", "exact_resend", "same_event_id_other_content")
TICKET_SHOWN = f"{HTML}{SCRIPT}"  # 72 characters: a valid ticket_no
DAY_SQL = "SELECT * EXCEPT (version) FROM day_metrics FINAL WHERE hall_id IN {halls:Array(String)}"
COUNTED = ("issued", "called", "transactions", "csat_n", "audit_n", "complaints", "late_events")


def hostile_feed(sim: list, halls: list[str]) -> list:
    """The simulator's messages with every hostile kind of each hall spread between that
    hall's own, each at its neighbour's event time (the paired kinds at one time)."""
    n_kinds = len(catalogue(halls[0], START, huge_bytes=1))
    index, total = {}, Counter(m.key for m in sim)
    seen = Counter()
    for m in sim:
        index[id(m)] = seen[m.key]
        seen[m.key] += 1
    out: list = []
    done = Counter()
    pair_time: dict[str, datetime] = {}
    for m in sim:
        out.append(m)
        h = m.key
        # kind i goes after the hall's message number i * (its messages) / (kinds)
        while done[h] < n_kinds and done[h] * total[h] <= index[id(m)] * n_kinds:
            prefix = f"hx-{halls.index(h)}"
            kind = catalogue(h, m.event_time, prefix=prefix, huge_bytes=600 * 1024)[done[h]]
            if kind.name in PAIRED:  # byte for byte the same first event: one time for the three
                t = pair_time.setdefault(h, m.event_time)
                kind = next(x for x in catalogue(h, t, prefix=prefix, huge_bytes=1) if x.name == kind.name)
            out.append(kind)
            done[h] += 1
    assert all(done[h] == n_kinds for h in halls)
    return out


def test_hostile_input_through_the_real_topics(kafka_bootstrap, tmp_path):
    row = trial("hostile input")
    cat = load_catalogue(Settings().catalogue_file)
    sim = list(simulator.generate(cat, halls=2, minutes=MINUTES, seed=23, start=START))
    halls = sorted({m.key for m in sim})
    lobby_hall = next(h.hall_id for h in cat.halls if h.hall_id not in halls)
    feed = hostile_feed(sim, halls)
    lobby_ticket = Hostile("html_ticket_no_on_the_lobby", "tickets", lobby_hall, json.dumps({
        "event_id": "lobby-1", "event_type": "issued", "hall_id": lobby_hall, "visit_id": "lobby-v1",
        "ticket_no": TICKET_SHOWN, "category": "consult", "priority": "normal", "channel": "kiosk",
        "occurred_at": "2026-11-23T10:30:00+08:00"}).encode(), ACCEPTED)
    feed.append(lobby_ticket)
    hostile = [m for m in feed if isinstance(m, Hostile)]
    bad = [m for m in hostile if m.bad]
    row.load = (f"simulator {len(halls)} halls × {MINUTES} min ({len(sim):,} events) + {len(hostile)} hostile "
                f"messages of {len({m.name for m in hostile})} kinds in the same partitions")
    row.faults = ("malformed, 10,000-deep, 600 kB and 5 MB messages; wrong types/enums/topic; unknown hall; "
                  "timestamps naive, 2099, 1970, year 1 and 9999; absurd durations; conflicting duplicates; "
                  "phone/ID numbers and SQL/HTML/JS in every text field")

    var = tmp_path / "var"
    env = worker_env(kafka_bootstrap, var, HALLPULSE__WORKER__TICK_SECONDS="3600")
    w = WorkerProcess(env, var, tmp_path / "worker.log")
    settings = w.settings
    kafka_local.ensure_topics(settings)
    with judged(row, w):
        w.start()
        # 1. 5 MB: Kafka refuses it at the producer, the worker never sees it
        refused = _send_5mb(settings, halls[0])
        assert refused, "a 5 MB message went through Kafka"
        row.notes.append(f"5 MB message refused by Kafka at the producer ({refused}); the worker never sees it")

        t0 = time.monotonic()
        assert produce_raw(settings, feed) == len(feed)
        wait_for(lambda: caught_up(settings, settings.worker.app_id), 300, "the worker to read everything", 1)
        w.wait_flushed(timeout=180)
        row.recovery = f"all read and stored {time.monotonic() - t0:.1f} s after the first send"

        # 2. the worker and the sink never stopped
        assert w.proc.poll() is None and w.sink.proc.poll() is None, w.log_tail()

        # 3. every bad message is a dead letter with its reason code, masked; nothing else is
        letters = read_topic(settings, settings.topics.deadletter)
        got = Counter(DeadLetter.parse(v)["reason_code"] for v in letters)
        want = Counter(m.expect for m in bad)
        assert got == want, f"dead letters {dict(got - want)} more, {dict(want - got)} missing"
        for v in letters:
            d = json.loads(v)
            assert d["reason"] and not clear_numbers(v.decode()), d["reason_code"]
            if d["reason_code"] == "too_large":  # an excerpt, not 600 kB again
                assert len(v) < 16 * 1024 and d["original_size"] > 600 * 1024, f"a {len(v):,}-byte dead letter"
        row.notes.append(f"{len(letters)} dead letters, by reason: "
                         + ", ".join(f"{k} {n}" for k, n in sorted(got.items())))

        # 4. the figures equal the oracle's over the same messages: neighbours count once
        now = datetime.now(timezone.utc)
        expected = oracle.day_figures(feed, now=now)
        stored = w.store().query(DAY_SQL, {"halls": [*halls, lobby_hall]}).dicts()
        problems = oracle.compare_days(expected, stored)
        row.lost, row.doubled = _lost_doubled(expected, stored)
        assert not problems, "\n".join(problems[:40])
        accepted = sum(m.expect == ACCEPTED for m in hostile)
        stats = w.stats()["engine"]
        assert stats["dead_letters"] == len(bad) and stats["duplicates"] >= 1
        row.notes.append(f"day figures of {len(expected)} hall-day-category rows equal the oracle's; "
                         f"{accepted} hostile messages were valid events (injection strings, masked comments)")

        # 5. the lobby page shows the HTML ticket number as text, inert
        dom, lobby_note = _lobby(w.url, lobby_hall)
        row.notes.append(lobby_note)

        # 6. the customer data sweep
        sweep = Sweep()
        findings = sweep_all(w, [w.log_path, w.sink.log_path], dom, sweep=sweep)
        row.notes.append(f"customer data sweep: {len(findings)} clear numbers in {sweep.summary()}")
        assert not findings, "\n".join(findings[:40])
        assert w.proc.poll() is None and w.sink.proc.poll() is None


def _send_5mb(settings, key: str) -> str:
    """The error Kafka gives a producer for a 5 MB message ('' if it took it)."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    huge = next(k for k in catalogue(key, START, prefix="big") if k.name == "message_5mb")
    producer = KafkaProducer(bootstrap_servers=settings.kafka.servers, acks="all")
    try:
        producer.send(settings.topics.surveys, key=key.encode(), value=huge.value).get(timeout=30)
        return ""
    except KafkaError as e:
        return type(e).__name__
    finally:
        producer.close()


def _lost_doubled(expected: dict, stored: list[dict]) -> tuple[int, int]:
    """Counted figures the store lacks, and holds beyond the oracle's, summed over rows."""
    s_map = {(r["hall_id"], str(r["day"])[:10], r["category"]): r for r in stored}
    lost = doubled = 0
    for key in set(expected) | set(s_map):
        o, s = expected.get(key, {}), s_map.get(key, {})
        for f in COUNTED:
            d = int(s.get(f) or 0) - int(o.get(f) or 0)
            lost, doubled = lost + max(0, -d), doubled + max(0, d)
    return lost, doubled


def _lobby(url: str, hall: str) -> tuple[str | None, str]:
    """Open the lobby page of ``hall`` in headless Chromium: the DOM (None without a
    browser) and a note. Asserts the ticket number shows literally and nothing ran."""
    from tests.browser import make_chromium_driver, missing_binaries

    reason = missing_binaries()
    if reason:
        return None, f"lobby check not run: {reason}"
    profile = tempfile.mkdtemp(prefix="hallpulse-chromium-")
    driver = make_chromium_driver(profile)
    try:
        driver.get(f"{url}/lobby/?hall={hall}&lang=en")
        wait_for(lambda: HTML in driver.execute_script("return document.body.textContent"), 60,
                 "the lobby page to show the ticket number")
        pwned = driver.execute_script("return window.__pwned")
        images = driver.execute_script("return document.querySelectorAll('img').length")
        scripts = driver.execute_script("return Array.from(document.scripts).map(s => s.src)")
        text = driver.execute_script("return document.body.textContent")
        dom = driver.execute_script("return document.documentElement.outerHTML")
        assert pwned is None, "a script from the data ran on the lobby page"
        assert images == 0, "the data made an <img> element"
        assert all(s.endswith((".js",)) for s in scripts) and len(scripts) == 2, scripts
        assert HTML in text and SCRIPT in text
        return dom, ("lobby page in headless Chromium: the ticket number "
                     f"{TICKET_SHOWN!r} shown as text, no element made, window.__pwned undefined")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
