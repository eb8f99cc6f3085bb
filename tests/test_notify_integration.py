"""``hallpulse notify`` end to end: the real broker, the notifier as a process, and local
HTTP robots that record what they got — one failing for its first requests, one down for a
while (the notifier is SIGKILLed while it waits on it), one failing for good.

Every message must arrive exactly once per channel, in Chinese with the figures; what was
acknowledged before the kill is not sent again after the restart; the robot that never
answers well ends in a dead letter that ``hallpulse deadletter list`` shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hallpulse import kafka_local
from tests.pipeline import ROOT, ServiceProcess, free_port, wait_for, worker_env

pytestmark = pytest.mark.integration

SH = timezone(timedelta(hours=8))
SECRET = "SECnotify-test-secret"


class Robot:
    """A group robot on loopback: records every request; ``fail(n)`` answers the next n with
    HTTP 500 (``errcode`` decides the kind of failure), ``down`` fails until cleared."""

    def __init__(self, kind: str, *, fail_first: int = 0, always_fail: bool = False, secret: str | None = None):
        self.kind, self.secret = kind, secret
        self.fail_first, self.always_fail = fail_first, always_fail
        self.down = threading.Event()
        self.accepted: list[dict] = []
        self.failed = 0
        self.lock = threading.Lock()
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = robot.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        with self.lock:
            if self.secret:
                ts = q["timestamp"][0]
                want = base64.b64encode(hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                                                 hashlib.sha256).digest()).decode()
                if q.get("sign") != [want]:
                    return 200, {"errcode": 310000, "errmsg": "sign not match"}
            if self.always_fail or self.down.is_set():
                self.failed += 1
                return 500, {"errcode": -1, "errmsg": "system busy"}
            if self.fail_first > 0:
                self.fail_first -= 1
                self.failed += 1
                # the last early failure is WeCom's rate limit: HTTP 200, errcode 45009
                return (200, {"errcode": 45009, "errmsg": "api freq out of limit"}) if self.fail_first == 0 \
                    else (500, {"errcode": -1, "errmsg": "system busy"})
            self.accepted.append({"query": q, "body": body})
            return 200, {"errcode": 0, "errmsg": "ok"}

    def texts(self) -> list[str]:
        with self.lock:
            if self.kind == "wecom":
                return [r["body"]["markdown"]["content"] for r in self.accepted]
            return [r["body"]["markdown"]["text"] for r in self.accepted]

    def close(self):
        self.server.shutdown()


def alert(hall: str, action: str, level: str, at: datetime, opened_at: datetime, category: str = "consult") -> dict:
    return dict(
        alert_id=f"{hall}:{category}:queue:{opened_at.astimezone(timezone.utc).isoformat()}", action=action,
        hall_id=hall, category=category, rule="queue", level=level, occurred_at=at.isoformat(),
        opened_at=opened_at.isoformat(),
        triggers=[] if action == "closed" else (["waiting>=30"] if level == "critical" else ["waiting>=15"]),
        figures={} if action == "closed" else {"waiting": 34.0 if level == "critical" else 17.0,
                                               "longest_wait_s": 780.0, "estimated_wait_s": 600.0},
        suggested_action="排队已回落，恢复常规窗口安排" if action == "closed" else "增开窗口",
        suggested_action_en="open another counter")


def key(a: dict) -> str:
    """What identifies one message in a robot's text: hall, action, level and time."""
    return a["alert_id"] + "/" + a["action"]


@pytest.fixture
def robots():
    r = {"wx": Robot("wecom", fail_first=4), "dd": Robot("dingtalk", secret=SECRET),
         "bad": Robot("wecom", always_fail=True)}
    yield r
    for x in r.values():
        x.close()


def _config(tmp_path, robots) -> str:
    u = {n: f"http://127.0.0.1:{r.port}" for n, r in robots.items()}
    path = tmp_path / "hallpulse.toml"
    path.write_text(f"""
[notify]
quiet_start = 00:00:00      # equal times: no quiet hours (the test runs at any hour)
quiet_end = 00:00:00
min_interval_minutes = 0
retries = 5
backoff_base_seconds = 0.4
backoff_max_seconds = 1.5
lobby_url = "http://screen.test/lobby/?hall={{hall_id}}"
default_channels = ["wx"]

[[notify.channels]]
name = "wx"
kind = "wecom"
url = "{u['wx']}/cgi-bin/webhook/send?key=K1"

[[notify.channels]]
name = "dd"
kind = "dingtalk"
url_env = "HP_TEST_DD_URL"
secret_env = "HP_TEST_DD_SECRET"

[[notify.channels]]
name = "bad"
kind = "wecom"
url = "{u['bad']}/cgi-bin/webhook/send?key=K3"

[[notify.routes]]
halls = ["JS-NJ-0001"]
channels = ["wx", "dd"]

[[notify.routes]]
cities = ["无锡"]
channels = ["dd"]

[[notify.routes]]
cities = ["苏州"]
channels = ["bad"]
""", encoding="utf-8")
    return str(path)


def test_notify_end_to_end(kafka_bootstrap, tmp_path, robots):
    from kafka import KafkaProducer

    var = tmp_path / "var"
    var.mkdir()
    env = worker_env(kafka_bootstrap, var, HALLPULSE_CONFIG=_config(tmp_path, robots),
                     HP_TEST_DD_URL=f"http://127.0.0.1:{robots['dd'].port}/robot/send?access_token=T2",
                     HP_TEST_DD_SECRET=SECRET, HALLPULSE__NOTIFY__GROUP_ID=f"hp-notify-{tmp_path.name}")
    proc = ServiceProcess("notify", env, var, tmp_path / "notify.log", "HALLPULSE__NOTIFY__WEB_PORT")
    settings = proc.settings
    kafka_local.ensure_topics(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.servers, acks="all")

    def send(events):
        for a in events:
            producer.send(settings.topics.alerts, key=a["hall_id"].encode(), value=json.dumps(a).encode())
        producer.flush()

    now = datetime.now(SH).replace(microsecond=0) - timedelta(minutes=5)
    t = lambda m: now + timedelta(minutes=m)  # noqa: E731
    nj = [alert("JS-NJ-0001", "opened", "warning", t(0), t(0)),
          alert("JS-NJ-0001", "escalated", "critical", t(1), t(0)),
          alert("JS-NJ-0001", "closed", "critical", t(3), t(0))]
    nj2 = [alert("JS-NJ-0002", "opened", "warning", t(0), t(0), "payment")]
    sz = [alert("JS-SZ-0001", "opened", "critical", t(1), t(1))]
    send(nj + nj2 + sz)
    try:
        proc.start()
        wx, dd, bad = robots["wx"], robots["dd"], robots["bad"]
        wait_for(lambda: len(wx.accepted) >= 4 and len(dd.accepted) >= 3 and proc.stats()["notify"]["dead_letters"],
                 120, "phase 1 messages and the dead letter", interval=0.2)
        wait_for(lambda: proc.stats()["notify"]["lag"] == 0, 30, "the notifier to commit phase 1")
        assert wx.failed == 4 and bad.failed == 6  # the first try and 5 retries
        texts = wx.texts()
        assert len(texts) == 4 and len(dd.texts()) == 3
        assert sum("南京新街口营业厅" in x for x in texts) == 3 and sum("南京鼓楼营业厅" in x for x in texts) == 1
        esc = next(x for x in dd.texts() if "升级为严重" in x)
        for part in ("【严重】南京新街口营业厅 排队预警", "地市**：南京", "业务咨询", "等候人数 ≥ 30 人", "等候 34 人",
                     "最长等候 13 分钟", "预计等候 10 分钟", "增开窗口", f"{t(1):%Y-%m-%d %H:%M} (+08:00)",
                     "http://screen.test/lobby/?hall=JS-NJ-0001"):
            assert part in esc, part
        assert any(x.startswith("### 【已恢复】南京新街口营业厅") for x in texts)
        assert all(r["body"]["markdown"]["title"] for r in dd.accepted)

        # phase 2: the DingTalk robot goes down; the notifier is killed while it backs off
        dd.down.set()
        wx_events = [alert("JS-WX-0001", "opened", "warning", t(4), t(4), c) for c in ("consult", "payment", "terminal")]
        send(wx_events)
        wait_for(lambda: dd.failed >= 1, 60, "the notifier to try the robot that is down", interval=0.05)
        proc.kill()
        dd.down.clear()
        proc.start()
        wait_for(lambda: len(dd.accepted) >= 6, 120, "the phase 2 messages after the restart", interval=0.2)
        wait_for(lambda: proc.stats()["notify"]["lag"] == 0, 30, "the notifier to commit phase 2")
        time.sleep(2)  # anything sent twice would arrive by now

        # exactly once per channel: nothing acknowledged before the kill came again
        def ids(robot):
            return Counter(next(a["hall_id"] + a["category"] + a["action"] for a in nj + nj2 + wx_events
                                if _about(x, a)) for x in robot.texts())
        assert all(n == 1 for n in ids(wx).values()) and len(ids(wx)) == 4, ids(wx)
        assert all(n == 1 for n in ids(dd).values()) and len(ids(dd)) == 6, ids(dd)
        assert len(bad.accepted) == 0

        # the dead letter, as the operator sees it
        out = subprocess.run([sys.executable, "-m", "hallpulse", "deadletter", "list", "--json", "--reason",
                              "notify_failed"], cwd=var.parent, capture_output=True, text=True, timeout=120,
                             env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr
        letters = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        assert len(letters) == 1, out.stdout
        d = letters[0]
        assert d["topic"] == settings.topics.alerts and "channel bad (wecom): http 500 after 6 attempt(s)" in d["reason"]
        assert json.loads(d["original"])["hall_id"] == "JS-SZ-0001"
    finally:
        producer.close()
        proc.kill()


CATEGORY_ZH = {"consult": "业务咨询", "payment": "缴费充值", "terminal": "终端业务"}
ACTION_ZH = {"opened": "新发生", "escalated": "升级为严重", "closed": "【已恢复】"}


def _about(text: str, a: dict) -> bool:
    from schemas.catalogue import load_catalogue

    hall = load_catalogue(ROOT / "config" / "halls.toml").get(a["hall_id"])
    return hall.name in text and CATEGORY_ZH[a["category"]] in text and ACTION_ZH[a["action"]] in text
