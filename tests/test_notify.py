"""The notifier's rules without Kafka or HTTP: routing, quiet hours, the per-hall interval,
the Chinese message, the two robots' payloads and DingTalk signing, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import datetime, time, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.catalogue import load_catalogue
from schemas.events import AlertEvent
from sinks.notify.channels import Answer, backoff, classify, dingtalk_sign, payload, signed_url
from sinks.notify.notifier import Notifier, Stopping
from sinks.notify.policy import Gate, in_quiet_hours
from sinks.notify.render import render, trigger_zh
from sinks.notify.routing import channels_for
from sinks.notify.settings import ChannelSettings, NotifySettings, RouteSettings
from tests.pipeline import ROOT

SH = timezone(timedelta(hours=8))
CATALOGUE = load_catalogue(ROOT / "config" / "halls.toml")
NJ1 = "JS-NJ-0001"


def alert(action="opened", level="warning", hall=NJ1, at=datetime(2026, 11, 23, 10, 0, tzinfo=SH), **kw) -> AlertEvent:
    opened_at = kw.pop("opened_at", at)
    base = dict(
        alert_id=f"{hall}:consult:queue:{opened_at.isoformat()}", action=action, hall_id=hall, category="consult",
        rule="queue", level=level, occurred_at=at, opened_at=opened_at,
        triggers=["waiting>=15", "longest_wait>=10min"] if level == "warning" else ["waiting>=30"],
        figures={"waiting": 18.0 if level == "warning" else 34.0, "longest_wait_s": 660.0, "estimated_wait_s": 540.0,
                 "warning_waiting": 15.0},
        suggested_action="增开窗口", suggested_action_en="open another counter")
    base.update(kw)
    return AlertEvent.model_validate(base)


# ---- routing -----------------------------------------------------------------------------

def test_the_most_specific_route_wins():
    routes = [RouteSettings(cities=["南京"], channels=["nj"]), RouteSettings(halls=[NJ1], channels=["vip", "nj"]),
              RouteSettings(cities=["南京", "苏州"], channels=["east"])]
    assert channels_for(NJ1, "南京", routes, ["all"]) == ["vip", "nj"]
    assert channels_for("JS-NJ-0002", "南京", routes, ["all"]) == ["nj", "east"]  # two city routes add up
    assert channels_for("JS-WX-0001", "无锡", routes, ["all"]) == ["all"]
    assert channels_for("XX-0001", None, routes, []) == []


def test_settings_refuse_unknown_channels_and_half_quiet_hours():
    ch = [dict(name="nj", kind="wecom", url="http://x/")]
    with pytest.raises(ValidationError, match="not among"):
        NotifySettings(channels=ch, default_channels=["nope"])
    with pytest.raises(ValidationError, match="together"):
        NotifySettings(channels=ch, quiet_start=time(21), quiet_end=None)
    with pytest.raises(ValidationError, match="url or url_env"):
        ChannelSettings(name="a", kind="dingtalk")
    with pytest.raises(ValidationError, match="only DingTalk"):
        ChannelSettings(name="a", kind="wecom", url="http://x", secret_env="S")


def test_urls_and_secrets_come_from_the_environment(monkeypatch):
    c = ChannelSettings(name="d", kind="dingtalk", url_env="HP_TEST_DING_URL", secret_env="HP_TEST_DING_SECRET")
    with pytest.raises(ValueError, match="HP_TEST_DING_URL"):
        c.webhook_url()
    monkeypatch.setenv("HP_TEST_DING_URL", "https://oapi.dingtalk.com/robot/send?access_token=T")
    monkeypatch.setenv("HP_TEST_DING_SECRET", "SECabc")
    assert c.webhook_url().endswith("access_token=T") and c.secret() == "SECabc"


# ---- quiet hours and interval ------------------------------------------------------------

def test_quiet_hours_span_midnight_in_shanghai():
    q = (time(21, 0), time(8, 30))
    assert in_quiet_hours(datetime(2026, 11, 23, 21, 0, tzinfo=SH), *q)
    assert in_quiet_hours(datetime(2026, 11, 23, 3, 0, tzinfo=SH), *q)
    assert not in_quiet_hours(datetime(2026, 11, 23, 8, 30, tzinfo=SH), *q)
    # 13:00 UTC is 21:00 in Shanghai
    assert in_quiet_hours(datetime(2026, 11, 23, 13, 0, tzinfo=timezone.utc), *q)
    assert not in_quiet_hours(datetime(2026, 11, 23, 12, 59, tzinfo=timezone.utc), *q)
    assert in_quiet_hours(datetime(2026, 11, 23, 12, 30, tzinfo=SH), time(12), time(14))
    assert not in_quiet_hours(datetime(2026, 11, 23, 3, 0, tzinfo=SH), None, None)


def _now(e: AlertEvent) -> datetime:
    return e.occurred_at + timedelta(seconds=5)


def test_quiet_hours_let_only_critical_through():
    g = Gate()
    night = datetime(2026, 11, 23, 22, 0, tzinfo=SH)
    w = alert(at=night)
    assert g.decide(w, _now(w)).reason == "quiet_hours"
    c = alert("escalated", "critical", at=night + timedelta(minutes=5), opened_at=night)
    assert g.decide(c, _now(c)).send
    closed = alert("closed", "critical", at=night + timedelta(minutes=30), opened_at=night)
    assert g.decide(closed, _now(closed)).reason == "quiet_hours"


def test_interval_holds_warnings_counts_them_and_lets_critical_through():
    g = Gate(min_interval=timedelta(minutes=10))
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
    first = alert(at=t0)
    d = g.decide(first, _now(first))
    assert d.send and d.held_before == 0
    g.sent(first)
    other = alert(at=t0 + timedelta(minutes=3), category="payment",
                  alert_id=f"{NJ1}:payment:queue:x")
    assert g.decide(other, _now(other)).reason == "interval"
    # the closing of a held alert is not news; the closing of an announced one is
    closed_other = alert("closed", at=t0 + timedelta(minutes=6), alert_id=other.alert_id)
    assert g.decide(closed_other, _now(closed_other)).reason == "closed_unannounced"
    crit = alert("escalated", "critical", at=t0 + timedelta(minutes=4), opened_at=t0)
    d = g.decide(crit, _now(crit))
    assert d.send and d.held_before == 1
    g.sent(crit)
    later = alert(at=t0 + timedelta(minutes=15), alert_id="later")
    assert g.decide(later, _now(later)).send  # the interval restarted at 10:04
    closed = alert("closed", "critical", at=t0 + timedelta(minutes=7), opened_at=t0)
    assert g.decide(closed, _now(closed)).send  # never held by the interval
    # another hall is not held by this one's interval
    nj2 = alert(hall="JS-NJ-0002", at=t0 + timedelta(minutes=1))
    assert g.decide(nj2, _now(nj2)).send


def test_stale_events_are_dropped_unless_replayed_and_closing_can_be_off():
    g = Gate(max_age=timedelta(hours=2), notify_closed=False)
    e = alert()
    assert g.decide(e, e.occurred_at + timedelta(hours=3)).reason == "stale"
    assert g.decide(e, e.occurred_at + timedelta(hours=3), replayed=True).send
    c = alert("closed")
    assert g.decide(c, _now(c)).reason == "closed_disabled"


# ---- the message -------------------------------------------------------------------------

def test_triggers_read_in_chinese():
    assert trigger_zh("waiting>=15") == "等候人数 ≥ 15 人"
    assert trigger_zh("longest_wait>=20min") == "最长等候 ≥ 20 分钟"
    assert trigger_zh("estimated_wait>=10min") == "预计等候 ≥ 10 分钟"
    assert trigger_zh("complaints_60min>=3") == "60 分钟内投诉 ≥ 3 条"
    assert trigger_zh("no_event>=15min") == "无新数据 ≥ 15 分钟"
    assert trigger_zh("something_new") == "something_new"


def test_message_has_the_hall_the_figures_the_action_and_shanghai_time():
    e = alert("escalated", "critical", at=datetime(2026, 11, 23, 1, 15, tzinfo=timezone.utc),
              opened_at=datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc))
    m = render(e, CATALOGUE.get(NJ1), lobby_url="http://screen/lobby/?hall={hall_id}", held_before=2)
    assert m.title == "【严重】南京新街口营业厅 排队预警"
    for part in ("南京", "业务咨询", "严重", "升级为严重", "等候人数 ≥ 30 人", "等候 34 人", "最长等候 11 分钟",
                 "预计等候 9 分钟", "**建议措施**：增开窗口", "2026-11-23 09:15 (+08:00)", "此前 2 条",
                 "(http://screen/lobby/?hall=JS-NJ-0001)"):
        assert part in m.text, part
    assert "UTC" not in m.text and "01:15" not in m.text
    closed = render(alert("closed", suggested_action="排队已回落，恢复常规窗口安排"), CATALOGUE.get(NJ1))
    assert closed.title.startswith("【已恢复】") and "排队已回落" in closed.text


def test_message_masks_any_personal_number_and_survives_an_unknown_hall():
    e = alert(hall="XX-9999", suggested_action="回访客户 13812345678")
    m = render(e, None)
    assert "13812345678" not in m.text and "138****5678" in m.text
    assert "XX-9999" in m.title and "未知地市" in m.text


def test_complaint_and_feed_figures():
    e = alert(rule="complaint_spike", category="all", triggers=["complaints_60min>=3"],
              figures={"complaints_in_window": 4.0, "escalated_in_window": 1.0, "complaint_spike_window_min": 60.0})
    m = render(e, CATALOGUE.get(NJ1))
    assert "投诉激增" in m.title and "60 分钟内投诉 4 条" in m.text and "升级投诉 1 条" in m.text
    f = alert(rule="feed", category="all", triggers=["no_event>=15min"], figures={"silent_min": 22.0})
    assert "已 22 分钟无新数据" in render(f, CATALOGUE.get(NJ1)).text


# ---- the robots --------------------------------------------------------------------------

def test_payloads_of_both_robots():
    m = render(alert(), CATALOGUE.get(NJ1))
    assert payload("wecom", m) == {"msgtype": "markdown", "markdown": {"content": m.text}}
    assert payload("dingtalk", m) == {"msgtype": "markdown", "markdown": {"title": m.title, "text": m.text}}
    long = type(m)(title="t", text="排" * 3000)
    assert len(payload("wecom", long)["markdown"]["content"].encode()) <= 4096


def test_dingtalk_signature():
    secret, ts = "SEC000test", 1700000000000
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest())
    assert urllib.parse.unquote_plus(dingtalk_sign(secret, ts)) == expected.decode()
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=T", secret, ts)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert q["access_token"] == ["T"] and q["timestamp"] == [str(ts)] and q["sign"] == [expected.decode()]
    assert signed_url("http://x/?a=1", None, ts) == "http://x/?a=1"


def test_answers_are_classified():
    assert classify(200, b'{"errcode":0,"errmsg":"ok"}').ok
    assert classify(200, b'{"errcode":45009,"errmsg":"api freq out of limit"}') == \
        Answer(False, True, "errcode 45009: api freq out of limit")
    assert not classify(200, b'{"errcode":93000,"errmsg":"invalid webhook url"}').retryable
    assert not classify(200, b'{"errcode":310000,"errmsg":"sign not match"}').retryable
    assert classify(500, b"").retryable and classify(429, b"").retryable and not classify(404, b"").retryable
    assert classify(None, None, "timeout").retryable
    assert classify(200, b"<html>").retryable
    assert [backoff(a, 1.0, 5.0) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


# ---- one event through the notifier, with a fake robot -----------------------------------

class _Config:
    def __init__(self, **notify):
        self.notify = NotifySettings(
            channels=[dict(name="wx", kind="wecom", url="http://wx/"), dict(name="dd", kind="dingtalk", url="http://dd/")],
            default_channels=["wx", "dd"], retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.02, **notify)


def test_retries_then_reports_the_channel_that_kept_failing():
    calls = []

    def robot(url, body, timeout):
        calls.append(url)
        if url.startswith("http://wx/"):
            return Answer(False, True, "http 500") if calls.count(url) < 3 else Answer(True, False, "ok")
        return Answer(False, True, "errcode 45009: limit")

    n = Notifier(_Config(), CATALOGUE, sender=robot)
    e = alert()
    failed = n.handle(e.model_dump_json().encode(), now=_now(e))
    assert calls.count("http://wx/") == 3 and calls.count("http://dd/") == 3  # 1 + 2 retries each
    assert [(c.name, a.detail, k) for c, a, k in failed] == [("dd", "errcode 45009: limit", 3)]
    assert n.stats.messages_sent == 1 and n.stats.retries == 4


def test_a_refusal_is_not_retried_and_stopping_leaves_the_event():
    calls = []

    def robot(url, body, timeout):
        calls.append(url)
        return Answer(False, False, "errcode 93000: invalid webhook url")

    n = Notifier(_Config(), CATALOGUE, sender=robot)
    e = alert()
    assert len(n.handle(e.model_dump_json().encode(), now=_now(e))) == 2 and len(calls) == 2

    n = Notifier(_Config(), CATALOGUE, sender=lambda *a: Answer(False, True, "http 503"))
    n.stopping.set()
    with pytest.raises(Stopping):
        n.handle(alert(hall="JS-NJ-0002").model_dump_json().encode(), now=_now(e))


def test_dry_run_prints_instead_of_posting():
    out = []
    n = Notifier(_Config(), CATALOGUE, dry_run=True, sender=lambda *a: pytest.fail("posted"), echo=out.append)
    e = alert()
    assert n.handle(e.model_dump_json().encode(), now=_now(e)) == []
    assert len(out) == 2 and "南京新街口营业厅" in out[0]
