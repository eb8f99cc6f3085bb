"""Queue early warning (排队预警, domain.md §4): the rules and the alert state machine.

Pure functions on purpose: the Faust agent keeps one ``AlertState`` per hall × category
(queue rule) and one per hall (complaint spike, feed) in a table, computes the figures at
event time ``at`` and calls ``evaluate_queue`` / ``evaluate_complaints`` / ``evaluate_feed``.
Nothing here reads a clock or does I/O except ``load_alert_rules``, so replaying a stream
gives the same alerts.

State machine (per alert, queue and complaint-spike rules)::

    (none) --level reached--> open(warning|critical) --critical--> open(critical)
    open --every warning-level value < share × threshold for close_after--> (none), "closed"

Only three things emit an event: opening, escalating warning → critical, closing. An
alert never de-escalates; between ``share`` and 100 % of a threshold it stays open and
the close timer does not run.

The feed rule (数据中断, domain.md §3) is simpler: a hall that sent no event for
``silent_after_min`` of its opening hours opens a warning (category ``all``); the hall's
next event closes it at once, without the close timer.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.events import AlertAction, AlertEvent, AlertLevel, AlertRule, Category, describe_error

# ---------------------------------------------------------------------------------------
# Rules (config/alerts.toml)
# ---------------------------------------------------------------------------------------


class AlertThresholds(BaseModel):
    """One size class's thresholds. Defaults are domain.md §4's, so a sparse file still works;
    unknown keys are rejected so a typo in the TOML cannot silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning_waiting: int = Field(default=15, ge=1)
    warning_longest_wait_min: float = Field(default=10, gt=0)
    warning_estimated_wait_min: float = Field(default=10, gt=0)
    critical_waiting: int = Field(default=30, ge=1)
    critical_longest_wait_min: float = Field(default=20, gt=0)
    complaint_spike_count: int = Field(default=3, ge=1)
    complaint_spike_window_min: float = Field(default=60, gt=0)
    # Not a rule of domain.md §4: when set, an escalated complaint inside a spike makes the
    # complaint-spike alert critical. Off by default, so the spike stays a warning.
    complaint_spike_critical_on_escalated: bool = False
    # Feed rule (数据中断, domain.md §3): no event for this many minutes of opening hours.
    silent_after_min: float = Field(default=15, gt=0)
    close_below_share: float = Field(default=0.8, gt=0, le=1)
    close_after_min: float = Field(default=2, ge=0)

    @model_validator(mode="after")
    def _critical_not_below_warning(self) -> "AlertThresholds":
        # A critical threshold under its warning one would open alerts at critical that
        # could never have been warnings, and the close rule (judged on warning) would lie.
        problems = []
        if self.critical_waiting < self.warning_waiting:
            problems.append(f"critical_waiting ({self.critical_waiting}) < warning_waiting ({self.warning_waiting})")
        if self.critical_longest_wait_min < self.warning_longest_wait_min:
            problems.append(
                f"critical_longest_wait_min ({self.critical_longest_wait_min:g}) < "
                f"warning_longest_wait_min ({self.warning_longest_wait_min:g})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def close_after(self) -> timedelta:
        return timedelta(minutes=self.close_after_min)


class AlertRules(BaseModel):
    """``[default]`` plus ``[size_class.NAME]`` tables that override single values.

    Overrides are merged onto the default when loading, so each size class is validated
    as a whole (e.g. a small hall's critical_waiting against its own warning_waiting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: AlertThresholds = AlertThresholds()
    size_class: dict[str, AlertThresholds] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _merge_overrides(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        base = data.get("default") or {}
        if isinstance(base, AlertThresholds):
            base = base.model_dump()
        overrides = data.get("size_class") or {}
        if not isinstance(overrides, dict) or not isinstance(base, dict):
            return data  # let field validation report the shape error
        merged: dict[str, Any] = {}
        for name, table in overrides.items():
            merged[name] = {**base, **table} if isinstance(table, dict) else table
        return {**data, "size_class": merged}

    def for_size_class(self, size_class: str) -> AlertThresholds:
        """A size class without its own table (e.g. ``large``, ``medium``) uses ``[default]``."""
        return self.size_class.get(size_class, self.default)


def load_alert_rules(path: Path) -> AlertRules:
    """Load and validate the rules file; errors name the file and the offending key."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    try:
        return AlertRules.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: {describe_error(exc)}") from exc


# ---------------------------------------------------------------------------------------
# Figures in, state kept between evaluations
# ---------------------------------------------------------------------------------------


def _check_figure(name: str, value: float) -> None:
    # Infinity (e.g. an estimated wait with no counter open) would not survive JSON on the
    # alerts topic; the caller must cap it to a large finite number.
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class QueueFigures:
    """One hall × category's queue at the evaluation time (waits in seconds)."""

    waiting: int
    longest_wait_s: float
    estimated_wait_s: float

    def __post_init__(self) -> None:
        _check_figure("waiting", self.waiting)
        _check_figure("longest_wait_s", self.longest_wait_s)
        _check_figure("estimated_wait_s", self.estimated_wait_s)


@dataclass(frozen=True)
class ComplaintFigures:
    """One hall's complaints in the rule's window (``complaint_spike_window_min``) ending at ``at``."""

    complaints_in_window: int
    escalated_in_window: int

    def __post_init__(self) -> None:
        _check_figure("complaints_in_window", self.complaints_in_window)
        _check_figure("escalated_in_window", self.escalated_in_window)
        if self.escalated_in_window > self.complaints_in_window:
            raise ValueError("escalated_in_window cannot exceed complaints_in_window")


@dataclass(frozen=True, slots=True)
class AlertState:
    """An open alert, as kept in the Faust table (via ``to_dict``) between evaluations.

    Frozen so that ``evaluate_*`` cannot change the caller's copy: they return a new state.
    ``last_at`` is the latest evaluation time seen; the alert's clock never runs backwards."""

    alert_id: str
    rule: AlertRule
    hall_id: str
    category: str  # a Category value, or "all" for the complaint-spike rule
    level: AlertLevel
    opened_at: datetime
    escalated_at: datetime | None
    last_at: datetime
    below_since: datetime | None
    last_figures: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: enums as values, datetimes as ISO 8601 with their offset."""
        return {
            "alert_id": self.alert_id,
            "rule": self.rule.value,
            "hall_id": self.hall_id,
            "category": self.category,
            "level": self.level.value,
            "opened_at": self.opened_at.isoformat(),
            "escalated_at": _iso_or_none(self.escalated_at),
            "last_at": self.last_at.isoformat(),
            "below_since": _iso_or_none(self.below_since),
            "last_figures": {k: float(v) for k, v in self.last_figures.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AlertState":
        return cls(
            alert_id=str(d["alert_id"]),
            rule=AlertRule(d["rule"]),
            hall_id=str(d["hall_id"]),
            category=str(d["category"]),
            level=AlertLevel(d["level"]),
            opened_at=_parse_aware(d["opened_at"]),
            escalated_at=_parse_aware(d.get("escalated_at")),
            last_at=_parse_aware(d["last_at"]),
            below_since=_parse_aware(d.get("below_since")),
            last_figures={str(k): float(v) for k, v in (d.get("last_figures") or {}).items()},
        )


def _iso_or_none(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _parse_aware(v: Any) -> Any:
    if v is None:
        return None
    t = v if isinstance(v, datetime) else datetime.fromisoformat(v)
    if t.tzinfo is None:
        raise ValueError(f"alert state timestamp {v!r} has no UTC offset")
    return t


# ---------------------------------------------------------------------------------------
# Suggested actions (shown to the lobby manager / duty manager)
# ---------------------------------------------------------------------------------------

ADVICE_OPEN_COUNTER = ("增开窗口", "open another counter")
ADVICE_SELF_SERVICE = ("引导客户至自助终端办理", "send customers to self-service kiosks")
ADVICE_PREHANDLE = ("大堂经理在预处理专席预先办理", "pre-handle paperwork at the lobby desk")
ADVICE_CALL_BACK = ("值班经理立即回访投诉客户并排查原因", "duty manager calls back complaining customers and checks the cause")
ADVICE_QUEUE_CLEARED = ("排队已回落，恢复常规窗口安排", "queue is back to normal; return to the usual counter plan")
ADVICE_COMPLAINTS_CLEARED = ("投诉已回落，继续跟进回访结果", "complaints are back to normal; follow up the call-backs")
ADVICE_CHECK_FEED = ("检查取号机与网络连接，确认排队数据上报正常",
                     "Check the queue machine and network link; make sure queue data is being sent")
ADVICE_FEED_RESTORED = ("数据已恢复上报，核对中断期间的排队情况",
                        "Data is being sent again; check the queue during the outage")

# Categories simple enough for a self-service kiosk (缴费, 咨询).
SELF_SERVICE_CATEGORIES = frozenset({Category.payment.value, Category.consult.value})


def _queue_advice(level: AlertLevel, f: QueueFigures, th: AlertThresholds, category: str) -> tuple[str, str]:
    """Counters first when the queue itself is long or critical: only more capacity clears it.
    A long *estimated* wait in a kiosk-capable category can be drained to the kiosks;
    anything else (long individual waits, complex business) is eased at the lobby desk."""
    if level is AlertLevel.critical or f.waiting >= th.warning_waiting:
        return ADVICE_OPEN_COUNTER
    if category in SELF_SERVICE_CATEGORIES and f.estimated_wait_s >= th.warning_estimated_wait_min * 60:
        return ADVICE_SELF_SERVICE
    return ADVICE_PREHANDLE


# ---------------------------------------------------------------------------------------
# Assessment of one set of figures against the thresholds
# ---------------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:g}"


def _limit(share: float, threshold: float) -> float:
    # Rounded so that 0.8 × 15 is exactly 12 (and 0.8 × 3 exactly 2.4): the 80 % boundary
    # must not move by a float ulp, or 12 waiting could count as "below".
    return round(share * threshold, 9)


class _Assessment(NamedTuple):
    level: AlertLevel | None  # level the figures reach now, None when no rule fires
    triggers: list[str]
    below: bool  # every warning-level value is under share × its threshold
    close_triggers: list[str] | tuple[str, ...]
    thresholds: dict[str, float]  # published on an event after the figures (``raw``)
    raw: dict[str, float]  # figures only, as kept in the state
    advice: tuple[str, str]
    close_advice: tuple[str, str]

    def published(self) -> dict[str, float]:
        """The figures and thresholds as an alert event publishes them (built only when an
        event is sent: most evaluations send none)."""
        return {**self.raw, **self.thresholds}


class _QueueLimits(NamedTuple):
    """One size class's queue thresholds in the figures' units, and the texts an event
    shows: the same for every evaluation (one per visit step), so made once."""

    warn_longest_s: float
    warn_est_s: float
    crit_longest_s: float
    lim_waiting: float
    lim_longest_s: float
    lim_est_s: float
    waiting_critical: str
    waiting_warning: str
    longest_critical: str
    longest_warning: str
    estimated: str
    close_triggers: tuple[str, ...]
    thresholds: dict[str, float]  # as published on an event, after the figures


@lru_cache(maxsize=64)
def _queue_limits(th: AlertThresholds) -> _QueueLimits:
    warn_longest_s = th.warning_longest_wait_min * 60
    warn_est_s = th.warning_estimated_wait_min * 60
    crit_longest_s = th.critical_longest_wait_min * 60
    share = th.close_below_share
    lim_waiting = _limit(share, th.warning_waiting)
    lim_longest_min = _limit(share, th.warning_longest_wait_min)
    lim_est_min = _limit(share, th.warning_estimated_wait_min)
    return _QueueLimits(
        warn_longest_s=warn_longest_s,
        warn_est_s=warn_est_s,
        crit_longest_s=crit_longest_s,
        lim_waiting=lim_waiting,
        lim_longest_s=lim_longest_min * 60,
        lim_est_s=lim_est_min * 60,
        waiting_critical=f"waiting>={th.critical_waiting}",
        waiting_warning=f"waiting>={th.warning_waiting}",
        longest_critical=f"longest_wait>={_num(th.critical_longest_wait_min)}min",
        longest_warning=f"longest_wait>={_num(th.warning_longest_wait_min)}min",
        estimated=f"estimated_wait>={_num(th.warning_estimated_wait_min)}min",
        close_triggers=(
            f"waiting<{_num(lim_waiting)}",
            f"longest_wait<{_num(lim_longest_min)}min",
            f"estimated_wait<{_num(lim_est_min)}min",
            f"for>={_num(th.close_after_min)}min",
        ),
        thresholds={
            "warning_waiting": float(th.warning_waiting),
            "warning_longest_wait_s": float(warn_longest_s),
            "warning_estimated_wait_s": float(warn_est_s),
            "critical_waiting": float(th.critical_waiting),
            "critical_longest_wait_s": float(crit_longest_s),
        },
    )


def _assess_queue(f: QueueFigures, th: AlertThresholds, category: str) -> _Assessment:
    lim = _queue_limits(th)
    triggers: list[str] = []
    critical = False
    # One trigger per figure, naming the highest threshold it crossed.
    if f.waiting >= th.critical_waiting:
        triggers.append(lim.waiting_critical)
        critical = True
    elif f.waiting >= th.warning_waiting:
        triggers.append(lim.waiting_warning)
    if f.longest_wait_s >= lim.crit_longest_s:
        triggers.append(lim.longest_critical)
        critical = True
    elif f.longest_wait_s >= lim.warn_longest_s:
        triggers.append(lim.longest_warning)
    if f.estimated_wait_s >= lim.warn_est_s:  # estimated wait has no critical level (§4)
        triggers.append(lim.estimated)
    level = AlertLevel.critical if critical else (AlertLevel.warning if triggers else None)

    below = f.waiting < lim.lim_waiting and f.longest_wait_s < lim.lim_longest_s and f.estimated_wait_s < lim.lim_est_s
    raw = {
        "waiting": float(f.waiting),
        "longest_wait_s": float(f.longest_wait_s),
        "estimated_wait_s": float(f.estimated_wait_s),
    }
    return _Assessment(
        level=level,
        triggers=triggers,
        below=below,
        close_triggers=lim.close_triggers,
        thresholds=lim.thresholds,
        raw=raw,
        advice=_queue_advice(level, f, th, category) if level else ADVICE_QUEUE_CLEARED,
        close_advice=ADVICE_QUEUE_CLEARED,
    )


def _assess_complaints(f: ComplaintFigures, th: AlertThresholds) -> _Assessment:
    window = _num(th.complaint_spike_window_min)
    triggers: list[str] = []
    level: AlertLevel | None = None
    if f.complaints_in_window >= th.complaint_spike_count:
        triggers.append(f"complaints_{window}min>={th.complaint_spike_count}")
        level = AlertLevel.warning
        # Only when configured (domain.md §4 has no such rule): an escalated complaint
        # inside a spike makes it critical. The figure is reported either way.
        if th.complaint_spike_critical_on_escalated and f.escalated_in_window >= 1:
            triggers.append("escalated_complaints>=1")
            level = AlertLevel.critical
    lim = _limit(th.close_below_share, th.complaint_spike_count)
    raw = {
        "complaints_in_window": float(f.complaints_in_window),
        "escalated_in_window": float(f.escalated_in_window),
    }
    thresholds = {
        "complaint_spike_count": float(th.complaint_spike_count),
        "complaint_spike_window_min": float(th.complaint_spike_window_min),
    }
    return _Assessment(
        level=level,
        triggers=triggers,
        below=f.complaints_in_window < lim,
        close_triggers=[f"complaints_{window}min<{_num(lim)}", f"for>={_num(th.close_after_min)}min"],
        thresholds=thresholds,
        raw=raw,
        advice=ADVICE_CALL_BACK,
        close_advice=ADVICE_COMPLAINTS_CLEARED,
    )


# ---------------------------------------------------------------------------------------
# The state machine
# ---------------------------------------------------------------------------------------


def alert_id_for(hall_id: str, category: str, rule: AlertRule, opened_at: datetime) -> str:
    """Deterministic so a replay or a restarted worker names the same alert the same way."""
    return f"{hall_id}:{category}:{rule.value}:{opened_at.astimezone(timezone.utc).isoformat()}"


def _event(
    *,
    alert_id: str,
    action: AlertAction,
    hall_id: str,
    category: str,
    rule: AlertRule,
    level: AlertLevel,
    at: datetime,
    opened_at: datetime,
    triggers: list[str],
    figures: dict[str, float],
    advice: tuple[str, str],
) -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id,
        action=action,
        hall_id=hall_id,
        category=category,
        rule=rule,
        level=level,
        occurred_at=at,
        opened_at=opened_at,
        triggers=list(triggers),
        figures=dict(figures),
        suggested_action=advice[0],
        suggested_action_en=advice[1],
    )


def _step(
    state: AlertState | None,
    a: _Assessment,
    th: AlertThresholds,
    *,
    rule: AlertRule,
    hall_id: str,
    category: str,
    at: datetime,
) -> tuple[AlertState | None, list[AlertEvent]]:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("evaluation time `at` must be timezone-aware (event time with an offset)")

    if state is None:
        if a.level is None:
            return None, []
        opened = AlertState(
            alert_id=alert_id_for(hall_id, category, rule, at),
            rule=rule,
            hall_id=hall_id,
            category=category,
            level=a.level,
            opened_at=at,
            escalated_at=None,
            last_at=at,
            below_since=None,
            last_figures=a.raw,
        )
        ev = _event(
            alert_id=opened.alert_id, action=AlertAction.opened, hall_id=hall_id, category=category,
            rule=rule, level=a.level, at=at, opened_at=at, triggers=a.triggers, figures=a.published(),
            advice=a.advice,
        )
        return opened, [ev]

    if (state.rule, state.hall_id, state.category) != (rule, hall_id, category):
        raise ValueError(
            f"state of alert {state.alert_id} ({state.rule.value} at {state.hall_id}/{state.category}) "
            f"passed for {rule.value} at {hall_id}/{category}"
        )
    # A late evaluation (event time before one already seen) counts as happening at the
    # latest time seen: otherwise it could start the close timer in a past the alert
    # already knows was not calm, and close too early.
    now = max(at, state.last_at)

    if a.level is AlertLevel.critical and state.level is AlertLevel.warning:
        escalated = replace(
            state, level=AlertLevel.critical, escalated_at=now, last_at=now, below_since=None,
            last_figures=a.raw,
        )
        ev = _event(
            alert_id=state.alert_id, action=AlertAction.escalated, hall_id=hall_id, category=category,
            rule=rule, level=AlertLevel.critical, at=now, opened_at=state.opened_at, triggers=a.triggers,
            figures=a.published(), advice=a.advice,
        )
        return escalated, [ev]

    if not a.below:
        # Firing again, or in the band between share and 100 %: stay open, timer off.
        return _later(state, now, None, a.raw), []

    below_since = state.below_since or now
    if now - below_since >= th.close_after:
        ev = _event(
            alert_id=state.alert_id, action=AlertAction.closed, hall_id=hall_id, category=category,
            rule=rule, level=state.level, at=now, opened_at=state.opened_at, triggers=a.close_triggers,
            figures=a.published(), advice=a.close_advice,
        )
        return None, [ev]
    return _later(state, now, below_since, a.raw), []


def _later(state: AlertState, last_at: datetime, below_since: datetime | None,
           figures: dict[str, float]) -> AlertState:
    """``state`` as of a later evaluation that changed nothing else (``dataclasses.replace``
    without its look at every field: this runs for every visit step of an open alert)."""
    return AlertState(state.alert_id, state.rule, state.hall_id, state.category, state.level, state.opened_at,
                      state.escalated_at, last_at, below_since, figures)


def queue_fires(waiting: int, longest_wait_s: float, estimated_wait_s: float, th: AlertThresholds) -> bool:
    """Whether any queue rule fires on these figures (§4): with no alert open, figures that
    fire none leave nothing to evaluate, so the caller may skip the evaluation."""
    return (waiting >= th.warning_waiting or longest_wait_s >= th.warning_longest_wait_min * 60
            or estimated_wait_s >= th.warning_estimated_wait_min * 60)


def evaluate_queue(
    state: AlertState | None,
    figures: QueueFigures,
    th: AlertThresholds,
    *,
    hall_id: str,
    category: str,
    at: datetime,
) -> tuple[AlertState | None, list[AlertEvent]]:
    """Advance one hall × category's queue alert to event time ``at``.

    Returns the new state (None when no alert is open) and the events to publish (at most
    one). The input state is not modified. Call it on every queue change *and* on a timer:
    a close can only be noticed when an evaluation happens after the 2 minutes have run."""
    cat = Category(category).value
    return _step(
        state, _assess_queue(figures, th, cat), th, rule=AlertRule.queue, hall_id=hall_id, category=cat, at=at
    )


def evaluate_complaints(
    state: AlertState | None,
    figures: ComplaintFigures,
    th: AlertThresholds,
    *,
    hall_id: str,
    at: datetime,
) -> tuple[AlertState | None, list[AlertEvent]]:
    """Advance one hall's complaint-spike alert (category ``all``) to event time ``at``.

    Level: warning for a spike, critical when an escalated complaint is among those in the
    window. As complaints only leave the window with time, the caller must also evaluate
    on a timer for the alert to close."""
    return _step(
        state, _assess_complaints(figures, th), th,
        rule=AlertRule.complaint_spike, hall_id=hall_id, category="all", at=at,
    )


# ---------------------------------------------------------------------------------------
# The feed rule (数据中断, domain.md §3)
# ---------------------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEED_CLOSE_TRIGGER = "event_received"


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def _minutes(d: timedelta) -> float:
    return max(d.total_seconds(), 0.0) / 60


def opening_minutes_between(start: datetime, end: datetime, *, opens: time, closes: time,
                            tz: tzinfo = SHANGHAI) -> float:
    """Minutes of a hall's opening hours (``opens``–``closes``, local times in ``tz``, every
    day) that lie between ``start`` and ``end``; 0 when ``end`` is not after ``start``.
    ``closes`` at or before ``opens`` means the hall closes on the next day.

    The feed rule's clock: a hall is silent at ``at`` when
    ``opening_minutes_between(last_event_at, at, …) >= th.silent_after_min``, so the night
    does not count and a hall is not silent the moment it opens."""
    for name, t in (("start", start), ("end", end)):
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    if end <= start:
        return 0.0
    total = timedelta(0)
    day: date = start.astimezone(tz).date() - timedelta(days=1)  # an overnight opening from the day before
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        o = datetime.combine(day, opens, tz)
        c = datetime.combine(day if closes > opens else day + timedelta(days=1), closes, tz)
        lo, hi = max(start, o), min(end, c)
        if hi > lo:
            total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60


def _feed_event(state: AlertState, action: AlertAction, at: datetime, triggers: list[str],
                figures: dict[str, float], advice: tuple[str, str]) -> AlertEvent:
    return _event(alert_id=state.alert_id, action=action, hall_id=state.hall_id, category="all",
                  rule=AlertRule.feed, level=AlertLevel.warning, at=at, opened_at=state.opened_at,
                  triggers=triggers, figures=figures, advice=advice)


def evaluate_feed(
    state: AlertState | None,
    *,
    silent: bool,
    last_event_at: datetime,
    th: AlertThresholds,
    hall_id: str,
    at: datetime,
) -> tuple[AlertState | None, list[AlertEvent]]:
    """Advance one hall's feed alert (数据中断, rule ``feed``, category ``all``) to ``at``.

    ``silent`` is the caller's verdict that the hall has sent no event for
    ``th.silent_after_min`` minutes of its opening hours (see
    :func:`opening_minutes_between`); ``last_event_at`` is the time of the hall's latest
    event on any topic. The alert opens (level ``warning``, never critical) when the hall is
    silent, and closes with the hall's next event, i.e. as soon as ``last_event_at`` is later
    than the last event before the silence: at once, with no close timer. It does not close
    because opening hours end: only an event ends a silence. Call it on the hall's events
    and on a timer (a silence is only noticed when an evaluation happens).

    Figures: ``silent_min`` (the gap: from the last event before the silence to ``at``, or
    to the event that ended it), ``last_event_age_min`` (age of the latest event at the
    evaluation), ``silent_from_ms`` (that last event before the silence, epoch ms) and the
    threshold ``silent_after_min``. Returns the new state and the events to publish: none,
    one, or a close and a new opening when one evaluation sees both an event that ended a
    silence and a new silence."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("evaluation time `at` must be timezone-aware (event time with an offset)")
    if last_event_at.tzinfo is None or last_event_at.utcoffset() is None:
        raise ValueError("last_event_at must be timezone-aware (event time with an offset)")
    threshold = float(th.silent_after_min)
    events: list[AlertEvent] = []

    if state is not None:
        if (state.rule, state.hall_id, state.category) != (AlertRule.feed, hall_id, "all"):
            raise ValueError(
                f"state of alert {state.alert_id} ({state.rule.value} at {state.hall_id}/{state.category}) "
                f"passed for feed at {hall_id}/all"
            )
        now = max(at, state.last_at)  # the alert's clock never runs backwards
        since_ms = int(state.last_figures["silent_from_ms"])
        if _ms(last_event_at) <= since_ms:  # no event since the silence began: stay open
            raw = {"silent_min": _minutes(now - datetime.fromtimestamp(since_ms / 1000, timezone.utc)),
                   "last_event_age_min": _minutes(now - last_event_at), "silent_from_ms": float(since_ms)}
            return replace(state, last_at=now, last_figures=raw), []
        gap = {"silent_min": (_ms(last_event_at) - since_ms) / 60_000,
               "last_event_age_min": _minutes(now - last_event_at), "silent_from_ms": float(since_ms),
               "silent_after_min": threshold}
        events.append(_feed_event(state, AlertAction.closed, now, [FEED_CLOSE_TRIGGER], gap, ADVICE_FEED_RESTORED))
        at = now

    if not silent:
        return None, events
    age = _minutes(at - last_event_at)
    if age < threshold:
        raise ValueError(f"silent, but the last event is {age:g} min before `at` < silent_after_min "
                         f"({threshold:g}): `silent` must follow from last_event_at")
    raw = {"silent_min": age, "last_event_age_min": age, "silent_from_ms": float(_ms(last_event_at))}
    opened = AlertState(
        alert_id=alert_id_for(hall_id, "all", AlertRule.feed, at), rule=AlertRule.feed, hall_id=hall_id,
        category="all", level=AlertLevel.warning, opened_at=at, escalated_at=None, last_at=at,
        below_since=None, last_figures=raw,
    )
    figures = {**raw, "silent_after_min": threshold}
    events.append(_feed_event(opened, AlertAction.opened, at, _feed_triggers(th), figures, ADVICE_CHECK_FEED))
    return opened, events


def _feed_triggers(th: AlertThresholds) -> list[str]:
    return [f"no_event>={_num(th.silent_after_min)}min"]


def current_advice(state: AlertState, th: AlertThresholds) -> tuple[str, str]:
    """The suggested action for an open alert from its latest figures, for live views that
    show alerts restored from the table (where the opening event is long gone)."""
    if state.rule is AlertRule.complaint_spike:
        return ADVICE_CALL_BACK
    if state.rule is AlertRule.feed:
        return ADVICE_CHECK_FEED
    f = state.last_figures
    figures = QueueFigures(waiting=int(f.get("waiting", 0)), longest_wait_s=f.get("longest_wait_s", 0.0),
                           estimated_wait_s=f.get("estimated_wait_s", 0.0))
    return _queue_advice(state.level, figures, th, state.category)


def current_triggers(state: AlertState, th: AlertThresholds) -> list[str]:
    """The conditions that hold now for an open alert (empty while it is cooling down)."""
    f = state.last_figures
    if state.rule is AlertRule.feed:
        return _feed_triggers(th)  # open only while silent: the condition holds
    if state.rule is AlertRule.complaint_spike:
        return _assess_complaints(ComplaintFigures(int(f.get("complaints_in_window", 0)),
                                                   int(f.get("escalated_in_window", 0))), th).triggers
    figures = QueueFigures(waiting=int(f.get("waiting", 0)), longest_wait_s=f.get("longest_wait_s", 0.0),
                           estimated_wait_s=f.get("estimated_wait_s", 0.0))
    return _assess_queue(figures, th, state.category).triggers
