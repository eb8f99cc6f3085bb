"""The two group robots: what to POST, how DingTalk signs, what an answer means.

* WeCom (企业微信) group robot: ``POST …/cgi-bin/webhook/send?key=KEY`` with
  ``{"msgtype": "markdown", "markdown": {"content": …}}``.
* DingTalk (钉钉) custom robot: ``POST …/robot/send?access_token=TOKEN`` with
  ``{"msgtype": "markdown", "markdown": {"title": …, "text": …}}``; with 加签 the URL also
  carries ``timestamp`` (ms) and ``sign`` = url-encoded base64(HMAC-SHA256(secret,
  f"{timestamp}\\n{secret}")).

Both answer HTTP 200 with ``{"errcode": 0, …}`` on success. Anything else is a failure;
:func:`classify` says whether trying again can help (server errors, rate limits, a lost
connection) or not (a wrong key, a bad signature, a message the robot refuses), so the
notifier retries the first kind and dead-letters the second at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from sinks.notify.render import Message

# errcodes worth another try: system busy, WeCom's and DingTalk's rate limits
RETRYABLE_ERRCODES = {-1, 45009, 45033, 130101, 660026}
WECOM_MAX_BYTES = 4096  # WeCom refuses longer markdown content


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query parameter of a signed DingTalk request (url-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    if not secret:
        return url
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{sep}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def _fit(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 6].decode(errors="ignore") + "\n…"


def payload(kind: str, message: Message) -> dict:
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _fit(message.text, WECOM_MAX_BYTES)}}
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.text}}
    raise ValueError(f"unknown channel kind {kind!r}")


@dataclass(frozen=True)
class Answer:
    ok: bool
    retryable: bool
    detail: str  # e.g. "http 500", "errcode 45009: api freq out of limit", "timeout"


def classify(status: int | None, body: bytes | None, error: str | None = None) -> Answer:
    """What one attempt's outcome means. ``status`` None: no HTTP answer at all (``error``)."""
    if status is None:
        return Answer(False, True, error or "no answer")
    if status != 200:
        retry = status >= 500 or status in (408, 429)
        return Answer(False, retry, f"http {status}")
    try:
        doc = json.loads(body or b"")
        code = int(doc.get("errcode", -1))
    except (ValueError, TypeError, AttributeError):
        return Answer(False, True, "http 200 without a JSON errcode")
    if code == 0:
        return Answer(True, False, "ok")
    return Answer(False, code in RETRYABLE_ERRCODES, f"errcode {code}: {str(doc.get('errmsg', ''))[:120]}")


def post(url: str, body: dict, timeout: float) -> Answer:
    """One attempt: POST the JSON body and classify the answer."""
    data = json.dumps(body, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return classify(r.status, r.read())
    except urllib.error.HTTPError as e:
        return classify(e.code, e.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        return classify(None, None, f"{type(e).__name__}: {getattr(e, 'reason', e)}"[:200])


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, …): base·2^(attempt-1), capped."""
    return min(cap, base * 2 ** (attempt - 1))
