"""The ``hall.facts`` messages: what a worker accepted, for the sink to store.

Each Kafka message is a JSON array of facts of one hall, sent by the worker in the same
transaction as its state (``streams/app.py``, from ``streams.engine.Outcome.facts``) and
gathered by the sink (``sinks/facts.py``, :func:`sinks.facts.batch_from_facts`). A fact is
one of four kinds, told apart by its ``"k"`` field:

- ``visit``: a visit's new steps (``"s"``); no steps means: re-derive it (it expired);
- ``survey``: a masked survey record (``"r"``);
- ``gauges``: the queue gauges of minutes that passed (``"rows"``, ``GAUGE_COLUMNS`` order);
- ``day``: a business day that ended (``"d"``, its start in epoch ms): re-aggregate it.

The keys are short because every accepted event leaves as one. Optional keys are absent,
not null, so a record is :data:`msgspec.UNSET` where a key is missing: decoding and encoding
again gives the same bytes. :func:`encode_facts` writes what ``json.dumps`` wrote before
these records existed (``", "`` and ``": "`` separators, non-ASCII kept), so the wire format
is unchanged.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Union

import msgspec
from msgspec import UNSET, UnsetType

Number = Union[int, float]


class Step(msgspec.Struct):
    """One event of a visit (``streams.visits.step_from_ticket`` / ``step_from_transaction``):
    a ticket event, or a transaction (``k == "tx"``, with ``st``, ``bc``, ``out``, ``fcr``)."""

    id: str                                  # event_id
    t: int                                   # occurred_at (a transaction: completed_at), epoch ms
    k: str                                   # issued | called | ... | tx
    c: str                                   # category
    tk: str                                  # ticket_no
    to: str | UnsetType = UNSET              # to_category (transferred)
    ctr: str | UnsetType = UNSET             # counter_id
    stf: str | UnsetType = UNSET             # staff_id
    pri: str | UnsetType = UNSET             # priority
    ch: str | UnsetType = UNSET              # channel
    st: int | UnsetType = UNSET              # a transaction's start, epoch ms
    bc: str | UnsetType = UNSET              # business_code
    out: str | UnsetType = UNSET             # outcome
    fcr: bool | UnsetType = UNSET            # resolved_first_contact
    lt: int | UnsetType = UNSET              # 1: arrived later than the grace


class SurveyRecord(msgspec.Struct):
    """A survey as the worker keeps it (``streams.engine.survey_record``): free text masked."""

    id: str
    h: str                                   # hall_id
    t: int                                   # answered_at, epoch ms
    kind: str
    score: int
    vid: str                                 # visit_id, '' when none
    stf: str                                 # staff_id, '' when none
    ch: str                                  # channel
    dims: dict[str, int]
    cm: str                                  # comment (masked)
    cmp: str | UnsetType = UNSET             # complaint category
    sev: str | UnsetType = UNSET             # complaint severity
    ctext: str | UnsetType = UNSET           # complaint text (masked)
    p: int | None | UnsetType = UNSET        # the input partition
    lt: int | UnsetType = UNSET


# hall_id, category, minute (epoch ms), queue_len, longest_wait_s, active_counters, est_wait_s
GaugeValues = tuple[str, str, int, int, Number, int, Number]


class VisitFact(msgspec.Struct, tag_field="k", tag="visit"):
    h: str
    v: str
    s: list[Step]


class SurveyFact(msgspec.Struct, tag_field="k", tag="survey"):
    r: SurveyRecord

    @property
    def h(self) -> str:
        return self.r.h


class GaugesFact(msgspec.Struct, tag_field="k", tag="gauges"):
    h: str
    rows: list[GaugeValues]


class DayFact(msgspec.Struct, tag_field="k", tag="day"):
    h: str
    d: int


Fact = Union[VisitFact, SurveyFact, GaugesFact, DayFact]

_decoder = msgspec.json.Decoder(list[Fact])


def decode_facts(data: bytes | str) -> list[Fact]:
    """One ``hall.facts`` message; raises :class:`msgspec.ValidationError` if malformed."""
    return _decoder.decode(data)


def facts_from_builtins(facts: Iterable[dict[str, Any]]) -> list[Fact]:
    """Facts as the engine builds them (plain dicts) as records, checked the same way."""
    return msgspec.convert(list(facts), list[Fact])


def encode_facts(facts: Iterable[Fact | dict[str, Any]]) -> bytes:
    """One ``hall.facts`` message, byte for byte as the worker has always written it."""
    return json.dumps(msgspec.to_builtins(list(facts)), ensure_ascii=False).encode()


# Kafka refuses a record above the broker's message.max.bytes (1 MiB by default); a hall's
# facts of one large batch (a backlog) can pass that, so they go as several messages.
FACTS_MESSAGE_MAX_BYTES = 512 * 1024


def encode_facts_messages(facts: list[Fact | dict[str, Any]],
                          max_bytes: int = FACTS_MESSAGE_MAX_BYTES) -> list[bytes]:
    """A hall's facts as ``hall.facts`` messages of at most ``max_bytes`` each (halved until
    they fit; one fact is never split), in order: usually the one :func:`encode_facts` gives."""
    data = encode_facts(facts)
    if len(data) <= max_bytes or len(facts) < 2:
        return [data]
    half = len(facts) // 2
    return encode_facts_messages(facts[:half], max_bytes) + encode_facts_messages(facts[half:], max_bytes)
