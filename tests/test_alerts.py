"""Queue early warning (domain.md §4): figures worked out by hand, times to the second."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas.events import AlertAction, AlertEvent, AlertLevel, AlertRule
from streams.alerts import (
    AlertRules,
    AlertState,
    AlertThresholds,
    ComplaintFigures,
    QueueFigures,
    current_advice,
    current_triggers,
    evaluate_complaints,
    evaluate_feed,
    evaluate_queue,
    load_alert_rules,
    opening_minutes_between,
)

RULES_FILE = Path(__file__).resolve().parent.parent / "config" / "alerts.toml"
CST = timezone(timedelta(hours=8))
HALL = "JS-NJ-0002"


def t(h: int, m: int, s: int = 0) -> datetime:
    return datetime(2026, 11, 23, h, m, s, tzinfo=CST)


def q(waiting: int, longest_min: float = 0, est_min: float = 0) -> QueueFigures:
    return QueueFigures(waiting=waiting, longest_wait_s=longest_min * 60, estimated_wait_s=est_min * 60)


@pytest.fixture(scope="module")
def rules() -> AlertRules:
    return load_alert_rules(RULES_FILE)


@pytest.fixture(scope="module")
def th(rules: AlertRules) -> AlertThresholds:
    return rules.for_size_class("large")  # no override in the file: the [default] table


def run_queue(steps, th, *, category="plan_change", state=None):
    """Feed (time, figures) in order; return the final state and [(time, event)]."""
    out = []
    for at, fig in steps:
        state, events = evaluate_queue(state, fig, th, hall_id=HALL, category=category, at=at)
        out += [(at, e) for e in events]
    return state, out


# --- the main story: open, escalate, hold in the 80-100 % band, close at exactly 2 min ---

MAIN_STORY = [
    (t(9, 59), q(14, 4, 6)),  # below every threshold: nothing
    (t(10, 0), q(16, 5, 7)),  # 16 >= 15: opens, warning
    (t(10, 2), q(22, 6, 8)),  # still warning: no event
    (t(10, 5), q(31, 9, 9)),  # 31 >= 30: escalates
    (t(10, 10), q(18, 7, 7)),  # back to warning figures: never de-escalates
    (t(10, 15), q(12, 5, 5)),  # 12 = 80 % of 15, not below: timer does not start
    (t(10, 20), q(11, 5, 5)),  # 11 < 12, 5 < 8 min, 5 < 8 min: timer starts at 10:20
    (t(10, 21), q(9, 4, 4)),
    (t(10, 21, 59), q(10, 4, 4)),  # 1:59 below: still open
    (t(10, 22), q(10, 4, 4)),  # 2:00 below: closes
]


def test_open_escalate_hold_and_close_exactly_after_two_minutes(th):
    state, out = run_queue(MAIN_STORY, th)
    assert state is None
    assert [(at, e.action, e.level) for at, e in out] == [
        (t(10, 0), AlertAction.opened, AlertLevel.warning),
        (t(10, 5), AlertAction.escalated, AlertLevel.critical),
        (t(10, 22), AlertAction.closed, AlertLevel.critical),
    ]
    opened, escalated, closed = (e for _, e in out)
    alert_id = "JS-NJ-0002:plan_change:queue:2026-11-23T02:00:00+00:00"
    for e in (opened, escalated, closed):
        assert e.alert_id == alert_id
        assert e.opened_at == t(10, 0)
        assert e.hall_id == HALL and e.category == "plan_change" and e.rule is AlertRule.queue
    assert [e.occurred_at for e in (opened, escalated, closed)] == [t(10, 0), t(10, 5), t(10, 22)]

    assert opened.triggers == ["waiting>=15"]
    assert opened.figures == {
        "waiting": 16, "longest_wait_s": 300, "estimated_wait_s": 420,
        "warning_waiting": 15, "warning_longest_wait_s": 600, "warning_estimated_wait_s": 600,
        "critical_waiting": 30, "critical_longest_wait_s": 1200,
    }
    assert (opened.suggested_action, opened.suggested_action_en) == ("增开窗口", "open another counter")

    assert escalated.triggers == ["waiting>=30"]
    assert escalated.figures["waiting"] == 31 and escalated.figures["longest_wait_s"] == 540
    assert escalated.suggested_action == "增开窗口"

    # the close event carries the figures at the closing moment
    assert closed.figures["waiting"] == 10 and closed.figures["longest_wait_s"] == 240
    assert closed.triggers == ["waiting<12", "longest_wait<8min", "estimated_wait<8min", "for>=2min"]
    assert closed.suggested_action_en == "queue is back to normal; return to the usual counter plan"


def test_state_in_between(th):
    state, _ = run_queue(MAIN_STORY[:6], th)  # up to 10:15, waiting 12
    assert state.level is AlertLevel.critical
    assert state.escalated_at == t(10, 5)
    assert state.below_since is None
    state, _ = run_queue(MAIN_STORY[6:9], th, state=state)  # up to 10:21:59
    assert state.below_since == t(10, 20)
    assert state.last_at == t(10, 21, 59)
    assert state.last_figures == {"waiting": 10, "longest_wait_s": 240, "estimated_wait_s": 240}


def test_dip_and_rise_resets_the_close_timer(th):
    steps = [
        (t(10, 0), q(16)),
        (t(10, 10), q(11)),  # below: timer from 10:10
        (t(10, 11), q(12)),  # back to 80 %: timer reset
        (t(10, 12), q(5)),  # would have closed here with the first timer
        (t(10, 12, 30), q(11)),  # still below: timer runs from 10:12
        (t(10, 13), q(11, longest_min=8)),  # longest wait at 80 % of 10 min: reset again
        (t(10, 14), q(3, longest_min=7.9)),  # below: timer from 10:14
        (t(10, 15, 59), q(3)),
        (t(10, 16), q(3)),
    ]
    state, out = run_queue(steps, th)
    assert state is None
    assert [(at, e.action, e.level) for at, e in out] == [
        (t(10, 0), AlertAction.opened, AlertLevel.warning),
        (t(10, 16), AlertAction.closed, AlertLevel.warning),
    ]


def test_refiring_while_open_gives_no_event_and_resets_the_timer(th):
    state, out = run_queue([(t(10, 0), q(16)), (t(10, 1), q(10)), (t(10, 2), q(20))], th)
    assert [e.action for _, e in out] == [AlertAction.opened]
    assert state.below_since is None and state.level is AlertLevel.warning


def test_close_is_noticed_at_the_next_evaluation_after_two_minutes(th):
    # No evaluation between 10:20 and 10:31: the close happens (and is stamped) at 10:31.
    _, out = run_queue([(t(10, 0), q(16)), (t(10, 20), q(2)), (t(10, 31), q(2))], th)
    assert [(e.action, e.occurred_at) for _, e in out] == [
        (AlertAction.opened, t(10, 0)), (AlertAction.closed, t(10, 31))
    ]


def test_a_new_alert_after_close_has_a_new_id(th):
    _, out = run_queue(
        [(t(10, 0), q(16)), (t(10, 1), q(2)), (t(10, 3), q(2)), (t(10, 4), q(15))], th
    )
    assert [(e.action, e.alert_id) for _, e in out] == [
        (AlertAction.opened, "JS-NJ-0002:plan_change:queue:2026-11-23T02:00:00+00:00"),
        (AlertAction.closed, "JS-NJ-0002:plan_change:queue:2026-11-23T02:00:00+00:00"),
        (AlertAction.opened, "JS-NJ-0002:plan_change:queue:2026-11-23T02:04:00+00:00"),
    ]


# --- the other triggers ------------------------------------------------------------------


def test_longest_wait_trigger(th):
    state, ev = evaluate_queue(None, q(5, longest_min=9.99), th, hall_id=HALL, category="plan_change", at=t(10, 0))
    assert (state, ev) == (None, [])
    state, ev = evaluate_queue(
        None, QueueFigures(5, 600.0, 120.0), th, hall_id=HALL, category="plan_change", at=t(10, 0)
    )
    assert [(e.action, e.level, e.triggers) for e in ev] == [
        (AlertAction.opened, AlertLevel.warning, ["longest_wait>=10min"])
    ]
    # a few people waiting long: complex business, ease it at the lobby desk
    assert (ev[0].suggested_action, ev[0].suggested_action_en) == (
        "大堂经理在预处理专席预先办理", "pre-handle paperwork at the lobby desk"
    )
    state, ev = evaluate_queue(
        state, QueueFigures(5, 1200.0, 120.0), th, hall_id=HALL, category="plan_change", at=t(10, 10)
    )
    assert [(e.action, e.level, e.triggers, e.suggested_action) for e in ev] == [
        (AlertAction.escalated, AlertLevel.critical, ["longest_wait>=20min"], "增开窗口")
    ]


def test_opens_directly_at_critical_with_every_trigger(th):
    _, ev = evaluate_queue(None, q(31, longest_min=12, est_min=15), th, hall_id=HALL, category="vip", at=t(10, 0))
    assert [(e.action, e.level, e.triggers) for e in ev] == [
        (AlertAction.opened, AlertLevel.critical, ["waiting>=30", "longest_wait>=10min", "estimated_wait>=10min"])
    ]
    assert ev[0].alert_id == "JS-NJ-0002:vip:queue:2026-11-23T02:00:00+00:00"


def test_estimated_wait_trigger_and_advice_by_category(th):
    fig = QueueFigures(waiting=6, longest_wait_s=120.0, estimated_wait_s=660.0)
    _, ev = evaluate_queue(None, fig, th, hall_id=HALL, category="payment", at=t(10, 0))
    assert [(e.action, e.level, e.triggers) for e in ev] == [
        (AlertAction.opened, AlertLevel.warning, ["estimated_wait>=10min"])
    ]
    assert (ev[0].suggested_action, ev[0].suggested_action_en) == (
        "引导客户至自助终端办理", "send customers to self-service kiosks"
    )
    _, ev = evaluate_queue(None, fig, th, hall_id=HALL, category="consult", at=t(10, 0))
    assert ev[0].suggested_action_en == "send customers to self-service kiosks"
    _, ev = evaluate_queue(None, fig, th, hall_id=HALL, category="open_account", at=t(10, 0))
    assert ev[0].suggested_action_en == "pre-handle paperwork at the lobby desk"
    # many waiting beats the kiosk even for payment
    _, ev = evaluate_queue(None, q(15, est_min=11), th, hall_id=HALL, category="payment", at=t(10, 0))
    assert ev[0].suggested_action_en == "open another counter"


def test_estimated_wait_never_makes_critical(th):
    state, ev = evaluate_queue(None, q(1, est_min=50), th, hall_id=HALL, category="payment", at=t(10, 0))
    assert [e.level for e in ev] == [AlertLevel.warning]
    # it also keeps the alert open: 8 min is 80 % of 10 min
    state, ev = evaluate_queue(state, q(1, est_min=8), th, hall_id=HALL, category="payment", at=t(10, 5))
    assert ev == [] and state.below_since is None


# --- size classes -------------------------------------------------------------------------


def test_size_class_thresholds_from_the_file(rules):
    small, flagship, large = (rules.for_size_class(c) for c in ("small", "flagship", "large"))
    assert (small.warning_waiting, small.critical_waiting) == (8, 15)
    assert (flagship.warning_waiting, flagship.critical_waiting) == (20, 40)
    assert (large.warning_waiting, large.critical_waiting) == (15, 30)
    # overrides touch single values; the rest comes from [default]
    assert small.warning_longest_wait_min == 10 and small.complaint_spike_count == 3
    assert rules.for_size_class("medium") == rules.default
    assert rules.for_size_class("unheard-of") == rules.default


def test_small_hall_warns_at_8_waiting(rules):
    small, large = rules.for_size_class("small"), rules.for_size_class("large")
    assert evaluate_queue(None, q(8), large, hall_id=HALL, category="payment", at=t(10, 0)) == (None, [])
    state, out = run_queue(
        [
            (t(10, 0), q(8)),
            (t(10, 3), q(15)),  # small critical at 15
            (t(10, 5), q(7)),  # 7 >= 6.4 (80 % of 8): stays, no timer
            (t(10, 6), q(6)),  # below from 10:06
            (t(10, 8), q(6)),
        ],
        small,
        category="payment",
    )
    assert [(at, e.action, e.level, e.triggers) for at, e in out] == [
        (t(10, 0), AlertAction.opened, AlertLevel.warning, ["waiting>=8"]),
        (t(10, 3), AlertAction.escalated, AlertLevel.critical, ["waiting>=15"]),
        (t(10, 8), AlertAction.closed, AlertLevel.critical,
         ["waiting<6.4", "longest_wait<8min", "estimated_wait<8min", "for>=2min"]),
    ]
    assert out[0][1].figures["warning_waiting"] == 8


def test_flagship_hall_needs_20(rules):
    flagship = rules.for_size_class("flagship")
    assert evaluate_queue(None, q(19), flagship, hall_id=HALL, category="terminal", at=t(10, 0)) == (None, [])
    _, ev = evaluate_queue(None, q(20), flagship, hall_id=HALL, category="terminal", at=t(10, 0))
    assert [(e.action, e.triggers) for e in ev] == [(AlertAction.opened, ["waiting>=20"])]


# --- complaint spike ------------------------------------------------------------------------


def run_complaints(steps, th, state=None):
    out = []
    for at, n, esc in steps:
        state, events = evaluate_complaints(state, ComplaintFigures(n, esc), th, hall_id=HALL, at=at)
        out += [(at, e) for e in events]
    return state, out


def test_complaint_spike_opens_at_the_third_and_closes_below_2_4_for_2_min(th):
    # complaints at 10:00, 10:20, 10:40; the first leaves the 60-min window at 11:00
    steps = [
        (t(10, 0), 1, 0),
        (t(10, 20), 2, 0),
        (t(10, 40), 3, 0),  # third within 60 min: opens
        (t(10, 59), 3, 0),
        (t(11, 0), 2, 0),  # 2 < 0.8 × 3 = 2.4: timer from 11:00
        (t(11, 1, 59), 2, 0),
        (t(11, 2), 2, 0),  # closes
    ]
    state, out = run_complaints(steps, th)
    assert state is None
    assert [(at, e.action, e.level) for at, e in out] == [
        (t(10, 40), AlertAction.opened, AlertLevel.warning),
        (t(11, 2), AlertAction.closed, AlertLevel.warning),
    ]
    opened, closed = (e for _, e in out)
    assert opened.alert_id == closed.alert_id == "JS-NJ-0002:all:complaint_spike:2026-11-23T02:40:00+00:00"
    assert opened.category == "all" and opened.rule is AlertRule.complaint_spike
    assert opened.triggers == ["complaints_60min>=3"]
    assert opened.figures == {
        "complaints_in_window": 3, "escalated_in_window": 0,
        "complaint_spike_count": 3, "complaint_spike_window_min": 60,
    }
    assert (opened.suggested_action, opened.suggested_action_en) == (
        "值班经理立即回访投诉客户并排查原因", "duty manager calls back complaining customers and checks the cause"
    )
    assert closed.triggers == ["complaints_60min<2.4", "for>=2min"]
    assert closed.figures["complaints_in_window"] == 2
    assert closed.occurred_at == t(11, 2) and closed.opened_at == t(10, 40)


def test_escalated_complaint_leaves_the_spike_a_warning_by_default(th):
    # domain.md §4 has no escalation rule for complaints: the file leaves it off
    assert th.complaint_spike_critical_on_escalated is False
    assert AlertThresholds().complaint_spike_critical_on_escalated is False
    state, out = run_complaints([(t(10, 0), 3, 1), (t(10, 10), 4, 2), (t(10, 20), 3, 0)], th)
    assert [(at, e.action, e.level, e.triggers) for at, e in out] == [
        (t(10, 0), AlertAction.opened, AlertLevel.warning, ["complaints_60min>=3"]),
    ]
    assert state.level is AlertLevel.warning
    # the escalated complaints are still reported
    assert out[0][1].figures["escalated_in_window"] == 1
    assert state.last_figures == {"complaints_in_window": 3, "escalated_in_window": 0}
    assert current_triggers(state, th) == ["complaints_60min>=3"]


def test_escalated_complaint_makes_the_spike_critical_when_configured(th):
    strict = th.model_copy(update={"complaint_spike_critical_on_escalated": True})
    _, out = run_complaints([(t(10, 0), 3, 1)], strict)
    assert [(e.action, e.level, e.triggers) for _, e in out] == [
        (AlertAction.opened, AlertLevel.critical, ["complaints_60min>=3", "escalated_complaints>=1"])
    ]
    _, out = run_complaints([(t(10, 0), 3, 0), (t(10, 10), 4, 1), (t(10, 20), 3, 0)], strict)
    assert [(at, e.action, e.level) for at, e in out] == [
        (t(10, 0), AlertAction.opened, AlertLevel.warning),
        (t(10, 10), AlertAction.escalated, AlertLevel.critical),
    ]
    assert out[1][1].figures["escalated_in_window"] == 1
    # an escalated complaint alone is not a spike
    assert run_complaints([(t(10, 0), 2, 2)], strict) == (None, [])


def test_escalation_rule_is_set_in_the_file_per_size_class(tmp_path):
    f = tmp_path / "alerts.toml"
    f.write_text("[default]\ncomplaint_spike_critical_on_escalated = false\n\n"
                 "[size_class.flagship]\ncomplaint_spike_critical_on_escalated = true\n")
    rules = load_alert_rules(f)
    assert rules.for_size_class("flagship").complaint_spike_critical_on_escalated is True
    assert rules.for_size_class("small").complaint_spike_critical_on_escalated is False
    _, out = run_complaints([(t(10, 0), 3, 1)], rules.for_size_class("flagship"))
    assert out[0][1].level is AlertLevel.critical
    _, out = run_complaints([(t(10, 0), 3, 1)], rules.for_size_class("small"))
    assert out[0][1].level is AlertLevel.warning


# --- feed (数据中断, domain.md §3) ------------------------------------------------------------

FEED_ADVICE = ("检查取号机与网络连接，确认排队数据上报正常",
               "Check the queue machine and network link; make sure queue data is being sent")


def run_feed(steps, th, state=None):
    """Feed (at, silent, last_event_at) in order; return the final state and [(at, event)]."""
    out = []
    for at, silent, last in steps:
        state, events = evaluate_feed(state, silent=silent, last_event_at=last, th=th, hall_id=HALL, at=at)
        out += [(at, e) for e in events]
    return state, out


def test_feed_thresholds_from_the_file(rules, th):
    assert th.silent_after_min == 15 and AlertThresholds().silent_after_min == 15
    assert rules.for_size_class("small").silent_after_min == 15


def test_silent_hall_opens_a_feed_warning_and_its_next_event_closes_it_at_once(th):
    last = t(10, 0)
    steps = [
        (t(10, 14, 59), False, last),  # 14:59 without an event: not yet silent
        (t(10, 15), True, last),  # 15 min: silent, opens
        (t(10, 30), True, last),  # still silent: no event, figures grow
        (t(10, 40, 30), False, t(10, 40, 30)),  # the next event closes it, no cooling
    ]
    state, out = run_feed(steps, th)
    assert state is None
    assert [(at, e.action, e.level) for at, e in out] == [
        (t(10, 15), AlertAction.opened, AlertLevel.warning),
        (t(10, 40, 30), AlertAction.closed, AlertLevel.warning),
    ]
    opened, closed = (e for _, e in out)
    assert opened.alert_id == closed.alert_id == "JS-NJ-0002:all:feed:2026-11-23T02:15:00+00:00"
    assert opened.rule is AlertRule.feed and opened.category == "all"
    assert opened.triggers == ["no_event>=15min"]
    last_ms = float(int(last.timestamp() * 1000))
    assert opened.figures == {"silent_min": 15, "last_event_age_min": 15, "silent_from_ms": last_ms,
                              "silent_after_min": 15}
    assert (opened.suggested_action, opened.suggested_action_en) == FEED_ADVICE
    assert closed.occurred_at == t(10, 40, 30) and closed.opened_at == t(10, 15)
    assert closed.triggers == ["event_received"]
    # the gap: from the last event before the silence to the event that ended it
    assert closed.figures == {"silent_min": 40.5, "last_event_age_min": 0, "silent_from_ms": last_ms,
                              "silent_after_min": 15}
    assert closed.suggested_action and closed.suggested_action_en
    for e in (opened, closed):
        assert AlertEvent.model_validate_json(e.model_dump_json()) == e


def test_feed_state_while_silent_and_its_round_trip(th):
    state, out = run_feed([(t(10, 20), True, t(10, 0)), (t(10, 35), True, t(10, 0))], th)
    assert len(out) == 1 and state.level is AlertLevel.warning
    assert state.opened_at == t(10, 20) and state.last_at == t(10, 35) and state.below_since is None
    assert state.last_figures["silent_min"] == 35 and state.last_figures["last_event_age_min"] == 35
    assert current_advice(state, th) == FEED_ADVICE
    assert current_triggers(state, th) == ["no_event>=15min"]
    d = json.loads(json.dumps(state.to_dict()))
    assert d["rule"] == "feed" and d["category"] == "all"
    restored = AlertState.from_dict(d)
    assert restored == state
    direct = evaluate_feed(state, silent=False, last_event_at=t(10, 36), th=th, hall_id=HALL, at=t(10, 36))
    again = evaluate_feed(restored, silent=False, last_event_at=t(10, 36), th=th, hall_id=HALL, at=t(10, 36))
    assert direct == again and direct[0] is None and [e.action for e in direct[1]] == [AlertAction.closed]


def test_feed_alert_stays_open_when_opening_hours_end_without_an_event(th):
    # silent from 17:45; the hall closes at 18:00 (the caller says: not silent any more)
    state, out = run_feed([(t(17, 45), True, t(17, 30)), (t(18, 30), False, t(17, 30))], th)
    assert [e.action for _, e in out] == [AlertAction.opened] and state is not None
    assert state.last_figures["silent_min"] == 60
    # the hall's first event next morning closes it
    next_morning = t(8, 31) + timedelta(days=1)
    state, out = run_feed([(next_morning, False, next_morning)], th, state=state)
    assert state is None and [e.action for _, e in out] == [AlertAction.closed]
    assert out[0][1].figures["silent_min"] == (next_morning - t(17, 30)).total_seconds() / 60


def test_feed_only_closes_on_an_event_later_than_the_silence(th):
    state, _ = run_feed([(t(10, 15), True, t(10, 0))], th)
    # a late event from before the silence does not end it (the hall's latest event is the same)
    state, out = run_feed([(t(10, 16), True, t(10, 0))], th, state=state)
    assert out == [] and state is not None
    # a late evaluation does not run the alert's clock backwards
    state, out = run_feed([(t(10, 10), True, t(10, 0))], th, state=state)
    assert out == [] and state.last_at == t(10, 16)
    # an event and a new silence seen by one evaluation: the old alert closes, a new one opens
    state, out = run_feed([(t(11, 0), True, t(10, 30))], th, state=state)
    assert [(e.action, e.opened_at, e.occurred_at) for _, e in out] == [
        (AlertAction.closed, t(10, 15), t(11, 0)), (AlertAction.opened, t(11, 0), t(11, 0))]
    assert out[0][1].figures["silent_min"] == 30 and out[1][1].figures["silent_min"] == 30
    assert out[0][1].alert_id != out[1][1].alert_id == state.alert_id


def test_no_feed_alert_while_events_arrive(th):
    assert run_feed([(t(10, 0), False, t(10, 0)), (t(10, 14), False, t(9, 59))], th) == (None, [])


def test_feed_threshold_is_configurable(th):
    short = th.model_copy(update={"silent_after_min": 5})
    _, out = run_feed([(t(10, 5), True, t(10, 0))], short)
    assert out[0][1].triggers == ["no_event>=5min"] and out[0][1].figures["silent_after_min"] == 5
    with pytest.raises(ValueError, match="silent_after_min"):  # 5 min is not silent at 15 min
        run_feed([(t(10, 5), True, t(10, 0))], th)
    with pytest.raises(ValidationError):
        AlertThresholds(silent_after_min=0)


def test_feed_bad_inputs_are_refused(th):
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_feed(None, silent=True, last_event_at=t(10, 0), th=th, hall_id=HALL, at=datetime(2026, 11, 23, 10, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_feed(None, silent=True, last_event_at=datetime(2026, 11, 23, 10), th=th, hall_id=HALL, at=t(10, 30))
    queue_state, _ = run_queue([(t(10, 0), q(16))], th)
    with pytest.raises(ValueError, match="passed for feed"):
        evaluate_feed(queue_state, silent=True, last_event_at=t(9, 0), th=th, hall_id=HALL, at=t(10, 1))


@pytest.mark.parametrize("start,end,minutes", [
    (t(10, 0), t(10, 15), 15),  # inside opening hours
    (t(8, 0), t(8, 40), 10),  # opens 08:30
    (t(17, 50), t(18, 30), 10),  # closes 18:00
    (t(17, 0), t(9, 0) + timedelta(days=1), 60 + 30),  # the night does not count
    (t(10, 0), t(10, 0) + timedelta(days=2), 2 * 570),  # two whole days
    (t(10, 0), t(9, 0), 0),  # end before start
    # UTC instants: 00:00-01:00 UTC is 08:00-09:00 in Asia/Shanghai
    (datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc), datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc), 30),
])
def test_opening_minutes_between(start, end, minutes):
    assert opening_minutes_between(start, end, opens=clock(8, 30), closes=clock(18, 0)) == pytest.approx(minutes)


def test_opening_minutes_of_a_hall_open_past_midnight():
    # open 20:00 - 02:00: from 01:00 to 21:00 the hall is open 01:00-02:00 and 20:00-21:00
    assert opening_minutes_between(t(1, 0), t(21, 0), opens=clock(20, 0), closes=clock(2, 0)) == 120


# --- state in a Faust table, determinism ---------------------------------------------------


def test_round_trip_mid_alert_gives_identical_events(th):
    for split in range(1, len(MAIN_STORY)):  # includes mid-escalation and a running close timer
        state, first = run_queue(MAIN_STORY[:split], th)
        _, rest_direct = run_queue(MAIN_STORY[split:], th, state=state)
        if state is not None:
            stored = json.loads(json.dumps(state.to_dict()))
            restored = AlertState.from_dict(stored)
            assert restored == state
            state = restored
        _, rest_restored = run_queue(MAIN_STORY[split:], th, state=state)
        assert rest_restored == rest_direct
        assert [e for _, e in first + rest_restored] == [e for _, e in run_queue(MAIN_STORY, th)[1]]


def test_round_trip_complaint_state(th):
    strict = th.model_copy(update={"complaint_spike_critical_on_escalated": True})
    state, _ = run_complaints([(t(10, 0), 3, 1), (t(10, 5), 2, 1)], strict)
    d = json.loads(json.dumps(state.to_dict()))
    assert d["category"] == "all" and d["rule"] == "complaint_spike" and d["level"] == "critical"
    assert d["below_since"] == "2026-11-23T10:05:00+08:00"
    assert AlertState.from_dict(d) == state


def test_deterministic_and_pure(th):
    a = run_queue(MAIN_STORY, th)
    b = run_queue(MAIN_STORY, th)
    assert a == b
    assert [e.model_dump_json() for _, e in a[1]] == [e.model_dump_json() for _, e in b[1]]
    # the caller's state is not changed by an evaluation
    state, _ = run_queue(MAIN_STORY[:7], th)
    before = state.to_dict()
    r1 = evaluate_queue(state, q(3), th, hall_id=HALL, category="plan_change", at=t(10, 23))
    r2 = evaluate_queue(state, q(3), th, hall_id=HALL, category="plan_change", at=t(10, 23))
    assert r1 == r2 and r1[0] is None and r1[1][0].action is AlertAction.closed
    assert state.to_dict() == before


def test_events_serialise_on_the_contract(th):
    _, out = run_queue(MAIN_STORY, th)
    for _, e in out:
        assert AlertEvent.model_validate_json(e.model_dump_json()) == e


def test_late_evaluation_does_not_run_the_clock_backwards(th):
    # 10:10 was not calm (13 waiting); a late evaluation stamped 10:08 must not start the
    # close timer at 10:08, or the alert would close at 10:11 instead of 10:12.
    state, out = run_queue([(t(10, 0), q(16)), (t(10, 10), q(13)), (t(10, 8), q(5))], th)
    assert state.below_since == t(10, 10) and state.last_at == t(10, 10)
    _, out2 = run_queue([(t(10, 11), q(5)), (t(10, 12), q(5))], th, state=state)
    assert [(e.action, e.occurred_at) for _, e in out2] == [(AlertAction.closed, t(10, 12))]


# --- validation -----------------------------------------------------------------------------


def test_thresholds_are_validated():
    with pytest.raises(ValidationError, match="critical_waiting"):
        AlertThresholds(warning_waiting=20, critical_waiting=10)
    with pytest.raises(ValidationError, match="critical_longest_wait_min"):
        AlertThresholds(warning_longest_wait_min=15, critical_longest_wait_min=12)
    for share in (0, 1.5):
        with pytest.raises(ValidationError):
            AlertThresholds(close_below_share=share)
    assert AlertThresholds(close_below_share=1).close_below_share == 1
    with pytest.raises(ValidationError):
        AlertThresholds(warning_wating=3)


def test_size_class_override_is_validated_as_a_whole(tmp_path):
    bad = tmp_path / "alerts.toml"
    bad.write_text("[default]\nwarning_waiting = 15\n\n[size_class.tiny]\ncritical_waiting = 10\n")
    with pytest.raises(ValueError, match=r"size_class\.tiny.*critical_waiting \(10\) < warning_waiting \(15\)"):
        load_alert_rules(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[size_class.small]\nwarnig_waiting = 8\n")
    with pytest.raises(ValueError, match="warnig_waiting"):
        load_alert_rules(typo)


def test_bad_inputs_are_refused(th):
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_queue(None, q(16), th, hall_id=HALL, category="payment", at=datetime(2026, 11, 23, 10, 0))
    with pytest.raises(ValueError):
        evaluate_queue(None, q(16), th, hall_id=HALL, category="coffee", at=t(10, 0))
    with pytest.raises(ValueError, match="estimated_wait_s"):
        QueueFigures(3, 0.0, float("inf"))
    with pytest.raises(ValueError):
        ComplaintFigures(1, 2)
    state, _ = run_queue([(t(10, 0), q(16))], th)
    with pytest.raises(ValueError, match="passed for"):
        evaluate_queue(state, q(16), th, hall_id=HALL, category="payment", at=t(10, 1))
