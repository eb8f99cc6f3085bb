"""The ``hall.facts`` messages as typed records (``schemas/facts.py``): every kind the engine
sends decodes and encodes back to the same bytes, and a malformed message is refused."""

from __future__ import annotations

import json
from datetime import timedelta

import msgspec
import pytest

from schemas.facts import (DayFact, GaugesFact, Step, SurveyFact, SurveyRecord, VisitFact, decode_facts,
                           encode_facts, encode_facts_messages, facts_from_builtins)
from tests.events import Maker, at
from tests.recording import RecordingEngine
from tests.test_engine_scenarios import CATALOGUE, RULES, scenario

HALL = "JS-NJ-0002"


@pytest.fixture(scope="module")
def sent() -> list[dict]:
    """What the engine sends for a day: visits (with transactions, a late event, one that
    expired), surveys (one with a complaint), gauges, and the day that ended when the next
    one began."""
    eng = RecordingEngine(CATALOGUE, RULES, grace_s=600)
    mk = Maker(HALL, series="b")  # beside scenario()'s own
    events = [*scenario(),
              mk.survey(at("10:40"), 9, dimensions={"staff": 9}),
              mk.survey(at("10:41"), 2, complaint={"category": "wait_time", "severity": "escalated",
                                                   "text": "waited an hour, call me on 13912345678"}),
              mk.ticket("issued", "W001", at("17:30")),  # never called: expires after closing
              mk.ticket("issued", "V900", at("10:05")),  # late: more than the grace behind the hall
              mk.ticket("issued", "N001", at("09:00") + timedelta(days=1))]
    for kind, raw in events:
        assert eng.process(kind, raw).dead_letter is None
    return eng.sent_facts


def _wire(facts: list[dict]) -> bytes:
    """What the worker wrote before the records existed."""
    return json.dumps(facts, ensure_ascii=False).encode()


def test_the_engine_sends_every_kind(sent):
    kinds = {f["k"] for f in sent}
    assert kinds == {"visit", "survey", "gauges", "day"}
    assert any(s.get("lt") for f in sent if f["k"] == "visit" for s in f["s"])
    assert any(s["k"] == "tx" for f in sent if f["k"] == "visit" for s in f["s"])
    assert any(f["k"] == "visit" and not f["s"] for f in sent)  # re-derive: expired
    assert any("cmp" in f["r"] for f in sent if f["k"] == "survey")


@pytest.mark.parametrize("kind", ["visit", "survey", "gauges", "day"])
def test_each_kind_round_trips_byte_for_byte(sent, kind):
    facts = [f for f in sent if f["k"] == kind]
    wire = _wire(facts)
    decoded = decode_facts(wire)
    assert {type(f) for f in decoded} == {{"visit": VisitFact, "survey": SurveyFact, "gauges": GaugesFact,
                                           "day": DayFact}[kind]}
    assert encode_facts(decoded) == wire          # records -> the same bytes
    assert encode_facts(facts) == wire            # the engine's dicts -> the same bytes as before
    assert facts_from_builtins(facts) == decoded  # in-process conversion agrees with decoding


def test_a_large_batch_is_split_into_messages_the_broker_takes(sent):
    """A backlog batch can hold more of a hall's facts than Kafka takes in one record (1 MiB):
    they go as several messages, each under the bound, which together are the same facts."""
    assert encode_facts_messages(sent) == [encode_facts(sent)]  # the usual case: one message
    many = sent * 200
    bound = 64 * 1024
    messages = encode_facts_messages(many, bound)
    assert len(messages) > 1 and all(len(m) <= bound for m in messages)
    assert [f for m in messages for f in decode_facts(m)] == decode_facts(encode_facts(many))


def test_records_are_typed(sent):
    visit = next(f for f in decode_facts(_wire(sent)) if isinstance(f, VisitFact) and f.s)
    assert isinstance(visit.s[0], Step) and isinstance(visit.s[0].t, int)
    survey = next(f for f in decode_facts(_wire(sent)) if isinstance(f, SurveyFact))
    assert isinstance(survey.r, SurveyRecord) and survey.h == HALL
    assert survey.r.lt is msgspec.UNSET  # absent key, not null


@pytest.mark.parametrize("bad", [
    b'[{"k": "minute", "h": "H"}]',                          # unknown kind
    b'[{"h": "H", "d": 1}]',                                 # no kind
    b'[{"k": "day", "h": "H"}]',                             # a field missing
    b'[{"k": "day", "h": "H", "d": "2026-11-23"}]',          # a field of the wrong type
    b'[{"k": "visit", "h": "H", "v": "V1", "s": [{"id": "e1", "k": "issued"}]}]',  # a step without its time
    b'[{"k": "gauges", "h": "H", "rows": [["H", "all", 0, 1]]}]',                # a gauge row too short
    b'{"k": "day", "h": "H", "d": 1}',                       # not an array of facts
    b'[{"k": "day", "h": "H", "d": 1}',                      # not JSON
])
def test_a_malformed_message_is_refused(bad):
    with pytest.raises(msgspec.DecodeError):  # ValidationError is a DecodeError
        decode_facts(bad)
