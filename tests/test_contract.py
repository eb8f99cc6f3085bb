"""The event contract of domain.md §2: valid events pass, invalid ones fail naming the field."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from hallpulse.commands.schema import SCHEMA_DIR, render_schemas
from schemas.events import AlertEvent, SurveyEvent, TicketEvent, TransactionEvent, describe_error
from schemas.privacy import contains_clear_id, contains_clear_phone, is_safe_customer_ref, mask_text

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


# ---- privacy: a number counts only when it stands on its own (not inside a token) ----------

PHONE = "13812345678"
ID_NO = "32010219900101123X"


def _hex64(text: str) -> str:
    """Pad to a 64-character lowercase hex string, the shape of a SHA-256 digest."""
    return (text + hashlib.sha256(text.encode()).hexdigest())[:64]


HEX_HASHES = [
    hashlib.sha256(b"customer-1").hexdigest(),
    _hex64(f"ab{PHONE}cd"),  # an 11-digit run starting with 1 between hex letters
    _hex64(f"{PHONE}ef"),  # at the start of the hash
    ("f" * 53 + PHONE),  # at the end
    _hex64(f"c86{PHONE}d"),  # what would be +86 and a phone
    _hex64(f"a{'320102199001011234'}b"),  # an 18-digit run that reads as an ID number
    _hex64(f"e{'32010219900101123'}"),  # 17 digits then a hex letter
    _hex64(f"b{PHONE}e{PHONE}a"),
    f"{PHONE}{PHONE}",  # one long number, not a phone
]


@pytest.mark.parametrize("ref", HEX_HASHES)
def test_hex_hashes_are_valid_customer_refs_even_with_phone_like_digit_runs(ref):
    assert not contains_clear_phone(ref) and not contains_clear_id(ref)
    assert is_safe_customer_ref(ref)
    assert mask_text(ref) == ref
    assert TicketEvent.model_validate({**TICKET, "customer_ref": ref}).customer_ref == ref


@pytest.mark.parametrize("ref", ["138****1234", "+86 138****1234", "320102********123X", "1**********",
                                 "VIP-138****5678"])
def test_masked_numbers_are_valid_customer_refs(ref):
    assert is_safe_customer_ref(ref)
    assert TicketEvent.model_validate({**TICKET, "customer_ref": ref}).customer_ref == ref


@pytest.mark.parametrize("ref,is_phone", [
    (PHONE, True), ("138 1234 5678", True), ("138-1234-5678", True), ("138 1234-5678", True),
    ("+8613812345678", True), ("8613812345678", True), ("+86 138 1234 5678", True), ("+86-138-1234-5678", True),
    ("008613812345678", True), ("(+86)13812345678", True), ("tel:13812345678", True), ("客户13812345678", True),
    ("１３８１２３４５６７８", True),  # full-width digits from a Chinese input method
    (ID_NO, False), ("32010219900101123x", False), ("320102199001011234", False), ("320102 19900101 123X", False),
    ("身份证32010219900101123X", False), ("３２０１０２１９９００１０１１２３Ｘ", False),
])
def test_clear_numbers_are_invalid_customer_refs(ref, is_phone):
    assert contains_clear_phone(ref) is is_phone and contains_clear_id(ref) is not is_phone
    assert not is_safe_customer_ref(ref)
    text = reason(TicketEvent, {**TICKET, "customer_ref": ref})
    assert text.startswith("customer_ref:") and "clear phone or ID number" in text


@pytest.mark.parametrize("text", [
    "138123456789",  # 12 digits
    "23812345678",  # does not start with 1
    "1381234567",  # 10 digits
    "13812345678901234567890",  # a long number
    "ORD13812345678",  # inside a token of letters and digits
    "13812345678X9",
    "3201021990010112345",  # 19 digits
])
def test_no_number_inside_longer_tokens(text):
    assert not contains_clear_phone(text) and not contains_clear_id(text)
    assert mask_text(text) == text


@pytest.mark.parametrize("text,masked", [
    ("我的电话13812345678请回电", "我的电话138****5678请回电"),
    ("电话：13812345678，身份证：32010219900101123X。", "电话：138****5678，身份证：320102********123X。"),
    ("请打+8613812345678或0086 139-1234-5678", "请打+86138****5678或0086 139****5678"),
    ("号码(13812345678)", "号码(138****5678)"),
    ("客户编号ab13812345678cd，电话13912345678", "客户编号ab13812345678cd，电话139****5678"),
    ("电话１３８－１２３４－５６７８", "电话１３８****５６７８"),
    ("身份证号32010219900101123x", "身份证号320102********123x"),
])
def test_masking_numbers_in_chinese_text(text, masked):
    assert mask_text(text) == masked
    assert contains_clear_phone(text) or contains_clear_id(text)
    assert not contains_clear_phone(masked) and not contains_clear_id(masked)
    assert mask_text(masked) == masked  # masking twice changes nothing


def test_a_survey_with_numbers_in_its_text_is_kept_and_stored_masked():
    from streams.engine import survey_record

    data = {**SURVEY, "comment": "我的电话13812345678请回电，身份证32010219900101123X",
            "complaint": {**SURVEY["complaint"], "text": "等了一小时，回电+86 139-1234-5678"}}
    s = SurveyEvent.model_validate(data)  # free text is never a reason to reject a survey
    assert s.comment == data["comment"]
    rec = survey_record(s)
    assert rec["cm"] == "我的电话138****5678请回电，身份证320102********123X"
    assert rec["ctext"] == "等了一小时，回电+86 139****5678"
    stored = json.dumps(rec, ensure_ascii=False)
    assert not contains_clear_phone(stored) and not contains_clear_id(stored)
    assert "13812345678" not in stored and "1391234" not in stored


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
    alerts = json.loads(rendered["hall.alerts.schema.json"])
    assert alerts["$defs"]["AlertRule"]["enum"] == ["queue", "complaint_spike", "feed"]
