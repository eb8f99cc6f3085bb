"""Whether an alert event becomes a message now: quiet hours and the per-hall interval.

The rulings (docs/operations.md, "Alerts to WeCom and DingTalk"):

* ``opened`` and ``escalated`` notify; ``closed`` notifies as a short 已恢复 only when
  ``notify_closed`` is on and the alert was not itself held back (nobody needs an all-clear
  for an alert they never heard of). A closing is never held by the interval.
* Quiet hours (Asia/Shanghai, of the alert's ``occurred_at``, so a replay decides alike):
  only critical events go out (opened at or escalated to 严重); warnings and closings are
  dropped, not held for the morning: by then they are stale.
* Minimum interval per hall: after a message about a hall, further warnings about it within
  ``min_interval_minutes`` are held back and counted; the next message that goes out says how
  many were held. A critical event always goes, and restarts the interval.
* Events older than ``max_age_minutes`` (a notifier catching up after an outage) are dropped,
  unless re-sent on purpose (``hallpulse deadletter replay``).

The state (last message per hall, held counts, alerts held back) is in memory: after a restart
one message inside an interval may go out that would have been held. It is bounded: halls and
alerts are forgotten once their interval and a day have passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from schemas.events import AlertAction, AlertEvent, AlertLevel
from streams.windows import SHANGHAI


def in_quiet_hours(at: datetime, start: time | None, end: time | None) -> bool:
    """Whether ``at`` (aware) falls in [start, end) local Shanghai time; start > end spans midnight."""
    if start is None or end is None or start == end:
        return False
    local = at.astimezone(SHANGHAI).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str          # sent | quiet_hours | interval | closed_unannounced | closed_disabled | stale
    held_before: int = 0  # warnings about this hall held back since its last message


@dataclass
class Gate:
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 30)
    min_interval: timedelta = timedelta(minutes=10)
    notify_closed: bool = True
    max_age: timedelta = timedelta(hours=2)
    last_sent: dict[str, datetime] = field(default_factory=dict)   # hall -> occurred_at of its last message
    held: dict[str, int] = field(default_factory=dict)             # hall -> held since then
    held_alerts: dict[str, datetime] = field(default_factory=dict)  # alert ids never announced

    def decide(self, e: AlertEvent, now: datetime, *, replayed: bool = False) -> Decision:
        """Decide for one event and record it (call :meth:`sent` once it was delivered)."""
        self._forget(now)
        critical = e.level is AlertLevel.critical and e.action is not AlertAction.closed
        if not replayed and now - e.occurred_at > self.max_age:
            return Decision(False, "stale")
        if e.action is AlertAction.closed:
            if not self.notify_closed:
                return Decision(False, "closed_disabled")
            if e.alert_id in self.held_alerts:
                self.held_alerts.pop(e.alert_id)
                return Decision(False, "closed_unannounced")
            if in_quiet_hours(e.occurred_at, self.quiet_start, self.quiet_end):
                return Decision(False, "quiet_hours")
            return Decision(True, "sent")
        if not critical and in_quiet_hours(e.occurred_at, self.quiet_start, self.quiet_end):
            self._hold(e, count=False)
            return Decision(False, "quiet_hours")
        last = self.last_sent.get(e.hall_id)
        if not critical and last is not None and abs(e.occurred_at - last) < self.min_interval:
            self._hold(e, count=True)
            return Decision(False, "interval")
        self.held_alerts.pop(e.alert_id, None)  # announced now (an escalation of a held warning)
        return Decision(True, "sent", self.held.get(e.hall_id, 0))

    def sent(self, e: AlertEvent) -> None:
        """The message about ``e`` was delivered (or dead-lettered): the interval starts."""
        if e.action is not AlertAction.closed:
            self.last_sent[e.hall_id] = e.occurred_at
            self.held.pop(e.hall_id, None)

    def _hold(self, e: AlertEvent, *, count: bool) -> None:
        if e.action is AlertAction.opened:
            self.held_alerts[e.alert_id] = e.occurred_at
        if count:
            self.held[e.hall_id] = self.held.get(e.hall_id, 0) + 1

    def _forget(self, now: datetime) -> None:
        horizon = now - max(self.min_interval, timedelta(days=1))
        for hall in [h for h, t in self.last_sent.items() if t < horizon]:
            del self.last_sent[hall]
            self.held.pop(hall, None)
        for alert in [a for a, t in self.held_alerts.items() if t < horizon]:
            del self.held_alerts[alert]
