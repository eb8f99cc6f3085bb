"""Hostile input through the engine (issue 10 part 5), without Kafka: every kind of
tests/hostile.py gives what it must, the engine never raises, a bad message never moves a
hall's clock, and the valid events around the bad ones count exactly once."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from hallpulse.config import Settings
from schemas.catalogue import load_catalogue
from streams.alerts import load_alert_rules
from streams.engine import EXCERPT_CHARS, DeadLetter, Engine
from tests.events import Maker, at
from tests.hostile import ACCEPTED, DUPLICATE, HTML, PHONE, SCRIPT, SQL, catalogue, clear_numbers
from tests.recording import Tables

HALL = "JS-NJ-0002"
CATALOGUE = load_catalogue(Settings().catalogue_file)
RULES = load_alert_rules(Settings().alert_rules_file)
KINDS = catalogue(HALL, at("10:00"))


def engine() -> Engine:
    return Engine(CATALOGUE, RULES)


def test_the_catalogue_has_at_least_twenty_kinds_with_unique_names():
    names = [k.name for k in KINDS]
    assert len(names) == len(set(names))
    assert len(KINDS) >= 20 and sum(k.bad for k in KINDS) >= 20


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_kind_gives_its_outcome_masked(kind):
    eng = engine()
    firsts = [k for k in KINDS if k.name == "first_of_a_pair"]
    if kind.expect in (DUPLICATE, "conflicting_duplicate"):
        eng.process(firsts[0].topic_kind, firsts[0].value, topic="t", partition=0, offset=1, key=HALL)
    out = eng.process(kind.topic_kind, kind.value, topic="t", partition=0, offset=2, key=kind.key)
    if kind.expect == ACCEPTED:
        assert out.dead_letter is None and not out.duplicate, out.dead_letter and out.dead_letter.reason
        stored = json.dumps([out.writes, out.facts], default=str, ensure_ascii=False)
        assert not clear_numbers(stored), stored
        return
    if kind.expect == DUPLICATE:
        assert out.duplicate and out.dead_letter is None
        return
    dl = out.dead_letter
    assert dl is not None, f"{kind.name} was accepted"
    assert dl.reason_code == kind.expect, dl.reason
    assert len(dl.reason) > 10 and dl.offset == 2
    letter = dl.to_json()
    assert len(letter) < 64 * 1024 or kind.expect != "too_large"
    parsed = json.loads(letter)
    for text in (parsed["original"], parsed["reason"], parsed["key"] or "", letter.decode()):
        assert not clear_numbers(text), text[:300]
    # what there was to keep is kept: the bytes (masked), or an excerpt and the size
    if kind.expect == "too_large":
        assert parsed["original_size"] == len(kind.value) and len(parsed["original"]) <= EXCERPT_CHARS
    elif not clear_numbers(kind.value.decode("utf-8", errors="replace")) and b"\xff" not in kind.value:
        assert DeadLetter.parse(letter)["original_bytes"] == kind.value


def test_the_reasons_say_what_is_wrong():
    eng = engine()
    reasons = {k.name: eng.process(k.topic_kind, k.value, topic="t").dead_letter for k in KINDS if k.bad
               and k.expect != "conflicting_duplicate"}
    assert "looks like a survey (has answered_at, score) on the tickets topic" in reasons[
        "wrong_topic_survey_on_tickets"].reason
    assert "before 2000" in reasons["timestamp_1970"].reason
    assert "720.0 h" in reasons["handle_time_30_days"].reason and "at most 12 h" in reasons["handle_time_30_days"].reason
    assert "negative" in reasons["negative_handle_time"].reason
    assert "nested too deeply" in reasons["nested_10000_deep"].reason
    assert "staff_id" in reasons["phone_in_tickets.staff_id"].reason
    huge = next(k for k in KINDS if k.name == "message_5mb")
    assert len(huge.value) > 5 * 1024 * 1024 and f"{len(huge.value):,} bytes" in reasons["message_5mb"].reason


def test_twenty_kb_of_brackets_is_a_dead_letter_not_a_recursion_error():
    out = engine().process("tickets", b"[" * 20_000, topic="t")
    assert out.dead_letter.reason_code == "malformed_json"


def test_an_exception_inside_the_engine_is_a_dead_letter(monkeypatch):
    eng = engine()
    monkeypatch.setattr(eng, "_visit_step", lambda *a, **k: 1 / 0)
    kind, raw = Maker(HALL).ticket("issued", "v001", at("10:00"))
    out = eng.process(kind, raw, topic="t", key=HALL)
    assert out.dead_letter.reason_code == "internal_error" and "ZeroDivisionError" in out.dead_letter.reason


def test_a_ticket_from_2099_does_not_move_the_halls_clock():
    eng = engine()
    m = Maker(HALL)
    eng.process(*m.ticket("issued", "v001", at("10:00")), topic="t")
    future = next(k for k in KINDS if k.name == "timestamp_2099")
    assert eng.process(future.topic_kind, future.value).dead_letter.reason_code == "future_timestamp"
    out = eng.process(*m.ticket("called", "v001", at("10:05"), counter_id="C01", staff_id="S01"), topic="t")
    assert out.dead_letter is None and eng.counts["late"] == 0
    assert all("lt" not in s for f in out.facts if f["k"] == "visit" for s in f["s"])


def test_valid_neighbours_count_exactly_once():
    """A valid day of one hall with every hostile kind between its events: the facts of the
    valid events (and the accepted hostile ones) are exactly those of the valid events fed
    alone, plus the accepted ones; no bad message leaves a fact."""
    m = Maker(HALL)
    valid = []
    for i in range(20):
        v = f"v{i:03d}"
        valid += [m.ticket("issued", v, at("09:00", seconds=10 * i)),
                  m.ticket("called", v, at("09:03", seconds=10 * i), counter_id="C01", staff_id="S01"),
                  m.tx(v, at("09:04", seconds=10 * i), at("09:09", seconds=10 * i)),
                  m.survey(at("09:10", seconds=10 * i), 8, comment=f"满意 {PHONE}")]
    alone = engine()
    for kind, raw in valid:
        assert alone.process(kind, raw, topic="t", partition=0).dead_letter is None
    eng = engine()
    hostile = catalogue(HALL, at("09:05"))  # within the grace of the valid events: none late
    mixed, hi = [], 0
    for n, (kind, raw) in enumerate(valid):
        mixed.append((kind, raw, None))
        while hi < len(hostile) and hi * len(valid) <= n * len(hostile):
            mixed.append((hostile[hi].topic_kind, hostile[hi].value, hostile[hi]))
            hi += 1
    mixed += [(h.topic_kind, h.value, h) for h in hostile[hi:]]
    event_ids = Counter()
    for offset, (kind, raw, h) in enumerate(mixed):
        out = eng.process(kind, raw, topic="t", partition=0, offset=offset)
        if h is not None and h.bad:
            assert out.dead_letter is not None and out.dead_letter.reason_code == h.expect, h.name
            assert not out.facts and not out.writes, h.name
        for f in out.facts:
            event_ids.update([(s["k"] == "tx", s["id"]) for s in f.get("s", [])] if f["k"] == "visit" else
                             [("survey", f["r"]["id"])] if f["k"] == "survey" else [])
    accepted = sum(h.expect == ACCEPTED for h in hostile)
    assert eng.counts["processed"] == alone.counts["processed"] + accepted
    assert eng.counts["duplicates"] == 1
    assert eng.counts["dead_letters"] == sum(h.bad for h in hostile)
    assert max(event_ids.values()) == 1 and len(event_ids) == len(valid) + accepted
    assert eng.counts["late"] == 0
    for topic in ("tickets", "transactions", "surveys"):  # the future and past ones moved nothing
        assert eng.books[HALL].clock(topic) == alone.books[HALL].clock(topic)


def test_injection_strings_are_kept_as_text():
    eng = engine()
    for k in KINDS:
        if (k.expect == ACCEPTED and any(s in k.name for s in ("sql_in", "html_in", "script_in"))
                and "customer_ref" not in k.name):  # a customer_ref is checked, not kept
            out = eng.process(k.topic_kind, k.value, topic="t")
            text = json.dumps([out.writes, out.facts], ensure_ascii=False)
            assert any(json.dumps(s, ensure_ascii=False)[1:-1] in text for s in (SQL, HTML, SCRIPT)) or \
                "sql_union" in k.name, k.name


def test_the_same_event_id_under_another_visit_is_not_counted_again():
    """Event ids are unique per topic (domain: duplicates are dropped; the oracle's ruling 2
    counts the first occurrence only, whatever the rest says). The same ticket id under
    another visit, or a survey id under another hall, is a conflicting duplicate: a dead
    letter, nothing held or written, also after a restart."""
    eng, tables = engine(), Tables()
    m = Maker(HALL)
    first = json.loads(m.ticket("issued", "v001", at("10:00"))[1])
    tx = json.loads(m.tx("v001", at("10:05"), at("10:09"))[1])
    survey = json.loads(m.survey(at("10:12"), 5)[1])
    for kind, value in (("tickets", first), ("transactions", tx), ("surveys", survey)):
        out = eng.process(kind, json.dumps(value).encode(), topic="t", partition=0)
        assert out.dead_letter is None
        tables.apply(out.writes)
    other_hall = next(h for h in CATALOGUE.by_id if h != HALL)
    repeats = [("tickets", {**first, "visit_id": "v002"}), ("transactions", {**tx, "visit_id": "v002"}),
               ("surveys", {**survey, "hall_id": other_hall})]
    for eng_now in (eng, tables.restore(engine())):
        for kind, value in repeats:
            out = eng_now.process(kind, json.dumps(value).encode(), topic="t", partition=0)
            assert out.dead_letter is not None and out.dead_letter.reason_code == "conflicting_duplicate", kind
            assert not out.writes and not out.facts
        assert "v002" not in eng_now.held and not eng_now.book(other_hall).surveys
        # the ids on another topic are other events: a ticket may carry a transaction's id
        again = {**first, "visit_id": "v003", "event_id": tx["event_id"]}
        assert eng_now.process("tickets", json.dumps(again).encode(), topic="t", partition=0).dead_letter is None


def test_event_ids_are_forgotten_with_their_visits_and_surveys():
    """The ids of a purged visit or survey leave the index with it: memory stays bounded by
    what the worker holds (a repeat after the retention is then the fact writer's to drop)."""
    eng = Engine(CATALOGUE, RULES, retention_h=1, purge_after_events=1)
    m = Maker(HALL)
    for kind, raw in (m.ticket("issued", "v001", at("10:00")), m.ticket("no_show", "v001", at("10:02")),
                      m.survey(at("10:03"), 4)):
        assert eng.process(kind, raw, topic="t", partition=0).dead_letter is None
    assert len(eng.visit_of_event) == 2 and len(eng.hall_of_survey) == 1
    for i in range(3):  # the hall's clocks move on past the retention: the purge runs
        eng.process(*m.ticket("issued", f"w{i:03d}", at("13:00", seconds=i)), topic="t", partition=0)
        eng.process(*m.survey(at("13:00", seconds=i), 4), topic="t", partition=0)
    assert "v001" not in eng.held
    assert all(vid != "v001" for vid in eng.visit_of_event.values())
    assert set(eng.hall_of_survey) == set(eng.book(HALL).surveys)


def test_a_feed_repeating_one_visit_is_cut_at_the_step_limit():
    """A stuck kiosk re-sending `recalled` with new event ids: the visit keeps its first
    ``max_visit_steps`` events, every further one is a dead letter saying why, an exact
    re-send of an accepted one is still a plain duplicate, and other visits go on."""
    eng = Engine(CATALOGUE, RULES, max_visit_steps=25)
    m = Maker(HALL)
    accepted = [m.ticket("issued", "v001", at("10:00")),
                m.ticket("called", "v001", at("10:01"), counter_id="C01", staff_id="S01")]
    accepted += [m.ticket("recalled", "v001", at("10:02", seconds=i), counter_id="C01") for i in range(23)]
    for kind, raw in accepted:
        assert eng.process(kind, raw, topic="t", partition=0).dead_letter is None
    outs = [eng.process(*m.ticket("recalled", "v001", at("10:03", seconds=i), counter_id="C01"), topic="t",
                        partition=0, offset=100 + i) for i in range(40)]
    assert {o.dead_letter.reason_code for o in outs} == {"visit_too_long"}
    assert "25 events" in outs[0].dead_letter.reason and outs[0].dead_letter.offset == 100
    assert all(not o.facts and not o.writes for o in outs)  # nothing of them is stored or held
    assert len(eng.held["v001"]["s"]) == 25 and eng.counts["dead:visit_too_long"] == 40
    assert eng.process(*accepted[5], topic="t", partition=0).duplicate  # a re-send is not a dead letter
    # a transaction of that visit is refused too (the feed already said more than a visit
    # can); the hall's other visits are unaffected
    tx = eng.process(*m.tx("v001", at("10:05"), at("10:06")), topic="t", partition=0)
    assert tx.dead_letter.reason_code == "visit_too_long"
    out = eng.process(*m.ticket("issued", "v002", at("10:04")), topic="t", partition=0)
    assert out.dead_letter is None and "v002" in eng.book(HALL).waiting


def test_the_default_step_limit_is_far_above_a_real_visit_and_below_a_record_kafka_refuses():
    """200 steps: a real visit has a dozen or so; the visit's changelog record at the limit
    stays well under Kafka's 1 MiB (each step is a few hundred bytes of JSON)."""
    eng = engine()
    m = Maker(HALL)
    eng.process(*m.ticket("issued", "v001", at("10:00")), topic="t", partition=0)
    for i in range(400):
        eng.process(*m.ticket("recalled", "v001", at("10:01", seconds=i), counter_id="C01", staff_id="S01"),
                    topic="t", partition=0)
    rec = eng.held["v001"]
    assert len(rec["s"]) == 200
    assert len(json.dumps(rec).encode()) < 256 * 1024
