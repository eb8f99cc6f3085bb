"""The event contract of domain.md §2: valid events pass, invalid ones fail naming the field."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hallpulse.commands.schema import SCHEMA_DIR, render_schemas
from schemas.events import AlertEvent, SurveyEvent, TicketEvent, TransactionEvent, describe_error
from schemas.privacy import contains_clear_id, contains_clear_phone, mask_text

TICKET = {"event_id": "e-1", "event_type": "issued", "hall_id": "JS-NJ-0001", "visit_id": "v-1", "ticket_no": "A023",
          "category": "plan_change", "priority": "elderly", "channel": "kiosk",
          "occurred_at": "2026-11-23T09:15:02.123+08:00", "customer_ref": "138****1234"}
TX = {"event_id": "t-1", "hall_id": "JS-NJ-0001", "visit_id": "v-1", "ticket_no": "A023", "counter_id": "C03",
      "staff_id": "S17", "category": "plan_change", "business_code": "PLAN_CHANGE_4G5G",
      "started_at": "2026-11-23T09:30:00+08:00", "completed_at": "2026-11-23T09:38:30+08:00", "outcome": "success",
      "resolved_first_contact": True}
SURVEY = {"event_id": "s-1", "hall_id": "JS-NJ-0001", "kind": "customer", "visit_id": "v-1", "channel": "sms",
          "answered_at": "2026-11-23T10:02:00Z", "score": 9, "dimensions": {"attitude": 10, "efficiency": 7},
          "complaint": {"category": "wait_time", "severity": "escalated", "text": "排队太久"}}


def reason(model, data) -> str:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return describe_error(exc.value)


def test_valid_events_of_each_topic():
    t = TicketEvent.model_validate(TICKET)
    assert t.occurred_at.utcoffset().total_seconds() == 8 * 3600
    tx = TransactionEvent.model_validate(TX)
    assert tx.handle_seconds == 510.0
    s = SurveyEvent.model_validate(SURVEY)
    assert s.complaint.severity.value == "escalated" and s.occurred_at.tzinfo is not None
    assert SurveyEvent.model_validate({**SURVEY, "kind": "mystery_shopper", "score": 87, "dimensions": None}).score == 87


@pytest.mark.parametrize("change,field,words", [
    ({"occurred_at": "2026-11-23T09:15:02"}, "occurred_at", "no UTC offset"),
    ({"customer_ref": "13812341234"}, "customer_ref", "clear phone"),
    ({"customer_ref": "138 1234 1234"}, "customer_ref", "clear phone"),
    ({"customer_ref": "32010219900101123X"}, "customer_ref", "clear phone or ID"),
    ({"category": "lottery"}, "category", "Input should be"),
    ({"event_type": "left"}, "event_type", "Input should be"),
    ({"priority": None}, "(event)", "priority required"),
    ({"event_id": ""}, "event_id", "at least 1 character"),
])
def test_invalid_ticket_names_the_field(change, field, words):
    text = reason(TicketEvent, {**TICKET, **change})
    assert text.startswith(field) or f"{field}:" in text
    assert words in text


def test_call_needs_counter_and_clerk_and_transfer_needs_target():
    call = {**TICKET, "event_type": "called", "priority": None, "channel": None}
    assert "counter_id, staff_id required on a 'called' event" in reason(TicketEvent, call)
    assert "to_category required" in reason(TicketEvent, {**TICKET, "event_type": "transferred"})


def test_negative_handle_time_is_rejected():
    assert "handle time would be negative" in reason(TransactionEvent, {**TX, "completed_at": "2026-11-23T09:29:00+08:00"})


@pytest.mark.parametrize("kind,score,ok", [("customer", 10, True), ("customer", 11, False), ("customer", 0, False),
                                           ("inspection", 100, True), ("inspection", 101, False),
                                           ("mystery_shopper", 0, True)])
def test_score_range_depends_on_kind(kind, score, ok):
    data = {**SURVEY, "kind": kind, "score": score, "dimensions": None}
    if ok:
        SurveyEvent.model_validate(data)
    else:
        assert f"score {score} out of range" in reason(SurveyEvent, data)


def test_dimension_on_the_wrong_scale_is_named():
    assert "dimensions.attitude" in reason(SurveyEvent, {**SURVEY, "dimensions": {"attitude": 80}})


def test_masking_of_free_text():
    text = "客户 13812345678 身份证 320102199001011234 回电 139-1234-5678"
    masked = mask_text(text)
    assert not contains_clear_phone(masked) and not contains_clear_id(masked)
    assert "138****5678" in masked and "320102********1234" in masked and "139****5678" in masked
    assert mask_text("order 20261123000001234567") == "order 20261123000001234567"  # long numbers are not phones


def test_alert_event_round_trips_as_json():
    a = AlertEvent(alert_id="x", action="opened", hall_id="JS-NJ-0001", category="consult", rule="queue",
                   level="warning", occurred_at="2026-11-23T10:00:00+08:00", opened_at="2026-11-23T10:00:00+08:00",
                   triggers=["waiting>=15"], figures={"waiting": 16}, suggested_action="增开窗口",
                   suggested_action_en="open another counter")
    assert AlertEvent.model_validate_json(a.model_dump_json()) == a


def test_committed_json_schemas_are_up_to_date():
    """Fails when the models change and `hallpulse schema export` was not run."""
    rendered = render_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.schema.json")}
    assert committed == rendered, "run: hallpulse schema export"
    tickets = json.loads(rendered["hall.queue.tickets.schema.json"])
    assert {"event_id", "hall_id", "event_type", "visit_id", "occurred_at"} <= set(tickets["required"])
