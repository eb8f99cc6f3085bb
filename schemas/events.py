"""The event contract of domain.md §2 as pydantic models.

One model per input topic plus the alert event the worker publishes. Validation is
strict where a wrong value would corrupt a metric (offsets on timestamps, enums, score
ranges, handle times) and where the law requires it (no clear phone or ID numbers).
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.privacy import contains_clear_number


class Category(StrEnum):
    consult = "consult"
    open_account = "open_account"
    plan_change = "plan_change"
    payment = "payment"
    terminal = "terminal"
    broadband = "broadband"
    vip = "vip"
    other = "other"


class TicketEventType(StrEnum):
    issued = "issued"
    called = "called"
    recalled = "recalled"
    transferred = "transferred"
    started = "started"
    no_show = "no_show"


class Priority(StrEnum):
    normal = "normal"
    vip = "vip"
    elderly = "elderly"
    reservation = "reservation"


class TicketChannel(StrEnum):
    kiosk = "kiosk"
    app = "app"
    reservation = "reservation"
    manager = "manager"


class Outcome(StrEnum):
    success = "success"
    failed = "failed"
    referred = "referred"


class SurveyKind(StrEnum):
    customer = "customer"
    mystery_shopper = "mystery_shopper"
    inspection = "inspection"


class SurveyChannel(StrEnum):
    sms = "sms"
    pad = "pad"
    app = "app"
    onsite = "onsite"


class ComplaintCategory(StrEnum):
    wait_time = "wait_time"
    attitude = "attitude"
    billing = "billing"
    business_error = "business_error"
    environment = "environment"
    other = "other"


class Severity(StrEnum):
    normal = "normal"
    escalated = "escalated"


# No hall ran a queue before this: an earlier event time is a broken clock or a default
# value (1970-01-01), and would file the event on a day no report covers.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
# A service at a counter longer than this is a clock or a data error (a 30-day handle time
# would swamp a month's mean), not a service.
MAX_HANDLE_SECONDS = 12 * 3600


def _require_offset(value: Any) -> Any:
    """Reject naive timestamps with a message an operator understands. Only ISO 8601 text
    is a timestamp here: a number (epoch seconds) says nothing about its offset."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"timestamp {value!r} is a number, not ISO 8601 text with a UTC offset")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # let pydantic report the format error
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no UTC offset; send e.g. {value}+08:00")
    elif isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    return value


def _in_range(value: datetime) -> datetime:
    if value < EARLIEST_EVENT_TIME:
        raise ValueError(f"timestamp {value.isoformat()} is before 2000-01-01: out of range")
    return value


@lru_cache(maxsize=4096)
def _holds_clear_number(value: str) -> bool:
    """:func:`schemas.privacy.contains_clear_number`, remembered: most identifiers of an
    event (hall, visit, ticket, counter, staff, business code) recur in the next ones."""
    return contains_clear_number(value)


def _no_customer_number(value: str) -> str:
    """Identifiers (ids, ticket and counter numbers, codes) are the system's, never a
    customer's: one that is a clear phone or ID number would carry it into the store, the
    API and the lobby screen, so the event is refused (and its dead letter masked)."""
    if _holds_clear_number(value):
        raise ValueError("holds a clear phone or ID number; identifiers must not carry customer data")
    return value


EventTime = Annotated[AwareDatetime, BeforeValidator(_require_offset), AfterValidator(_in_range)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_customer_number)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    event_id: NonEmpty
    hall_id: NonEmpty


class TicketEvent(_Event):
    """``hall.queue.tickets``: one step in the life of a visit."""

    event_type: TicketEventType
    visit_id: NonEmpty
    ticket_no: NonEmpty
    category: Category
    priority: Priority | None = None
    channel: TicketChannel | None = None
    counter_id: NonEmpty | None = None
    staff_id: NonEmpty | None = None
    to_category: Category | None = None
    occurred_at: EventTime
    customer_ref: str | None = Field(
        default=None, max_length=128,
        description="a hash (e.g. SHA-256 hex) or a masked number like 138****1234; a clear phone or ID number "
                    "(one not inside a longer token of ASCII letters and digits) is invalid",
    )

    @field_validator("customer_ref")
    @classmethod
    def _no_clear_number(cls, v: str | None) -> str | None:
        # schemas.privacy decides what a clear number is: one standing on its own, so a hex
        # hash whose digits happen to read 13812345678 is fine, +8613812345678 is not.
        if v is not None and _holds_clear_number(v):  # schemas.privacy.is_safe_customer_ref, remembered
            raise ValueError("customer_ref holds a clear phone or ID number; send a hash or a masked number like 138****1234")
        return v

    @model_validator(mode="after")
    def _fields_for_type(self) -> "TicketEvent":
        t = self.event_type
        missing: list[str] = []
        if t is TicketEventType.issued:
            missing += [f for f in ("priority", "channel") if getattr(self, f) is None]
        if t in (TicketEventType.called, TicketEventType.recalled, TicketEventType.started):
            if self.counter_id is None:
                missing.append("counter_id")
        if t in (TicketEventType.called, TicketEventType.started) and self.staff_id is None:
            missing.append("staff_id")
        if t is TicketEventType.transferred and self.to_category is None:
            missing.append("to_category")
        if missing:
            raise ValueError(f"{', '.join(missing)} required on a '{t.value}' event")
        return self


class TransactionEvent(_Event):
    """``hall.transactions``: a completed service at a counter."""

    visit_id: NonEmpty
    ticket_no: NonEmpty
    counter_id: NonEmpty
    staff_id: NonEmpty
    category: Category
    business_code: NonEmpty
    started_at: EventTime
    completed_at: EventTime
    outcome: Outcome
    resolved_first_contact: Annotated[bool, Field(strict=True)]  # true/false, not "yes" or 1

    @model_validator(mode="after")
    def _plausible_handle_time(self) -> "TransactionEvent":
        if self.completed_at < self.started_at:
            raise ValueError("completed_at is before started_at: handle time would be negative")
        if self.handle_seconds > MAX_HANDLE_SECONDS:
            raise ValueError(f"handle time {self.handle_seconds / 3600:.1f} h is absurd "
                             f"(at most {MAX_HANDLE_SECONDS // 3600} h)")
        return self

    @property
    def occurred_at(self) -> datetime:
        return self.completed_at

    @property
    def handle_seconds(self) -> float:
        return (self.completed_at - self.started_at).total_seconds()


class Complaint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    category: ComplaintCategory
    severity: Severity = Severity.normal
    text: str = Field(default="", max_length=4000,
                      description="free text; phone and ID numbers in it are masked before storage, never rejected")


class SurveyEvent(_Event):
    """``hall.surveys``: a customer's rating, a mystery shopper's or an inspector's checklist."""

    kind: SurveyKind
    visit_id: NonEmpty | None = None
    staff_id: NonEmpty | None = None
    channel: SurveyChannel
    answered_at: EventTime
    score: Annotated[int, Field(strict=True)]  # a JSON integer, not "7" or 7.0
    dimensions: dict[NonEmpty, Annotated[int, Field(strict=True)]] | None = None
    complaint: Complaint | None = None
    comment: str | None = Field(
        default=None, max_length=4000,
        description="free text; phone and ID numbers in it are masked before storage, never rejected",
    )

    @model_validator(mode="after")
    def _score_range(self) -> "SurveyEvent":
        lo, hi = (1, 10) if self.kind is SurveyKind.customer else (0, 100)
        if not lo <= self.score <= hi:
            raise ValueError(f"score {self.score} out of range {lo}-{hi} for kind '{self.kind.value}'")
        for name, value in (self.dimensions or {}).items():
            if not lo <= value <= hi:
                raise ValueError(f"dimensions.{name} = {value} out of range {lo}-{hi} for kind '{self.kind.value}'")
        return self

    @property
    def occurred_at(self) -> datetime:
        return self.answered_at


class AlertRule(StrEnum):
    queue = "queue"
    complaint_spike = "complaint_spike"
    feed = "feed"  # the hall sent no event for a while in its opening hours (数据中断)


class AlertLevel(StrEnum):
    warning = "warning"
    critical = "critical"


class AlertAction(StrEnum):
    opened = "opened"
    escalated = "escalated"
    closed = "closed"


class AlertEvent(BaseModel):
    """``hall.alerts``: an alert opening, escalating or closing (排队预警)."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    action: AlertAction
    hall_id: str
    category: Category | Literal["all"]
    rule: AlertRule
    level: AlertLevel
    occurred_at: AwareDatetime
    opened_at: AwareDatetime
    triggers: list[str] = Field(description="the conditions that fired, e.g. 'waiting>=15'")
    figures: dict[str, float] = Field(description="the figures at the moment of the event")
    suggested_action: str
    suggested_action_en: str


InputEvent = TicketEvent | TransactionEvent | SurveyEvent

MODELS_BY_KIND: dict[str, type[BaseModel]] = {
    "tickets": TicketEvent,
    "transactions": TransactionEvent,
    "surveys": SurveyEvent,
    "alerts": AlertEvent,
}


def describe_error(exc: ValidationError) -> str:
    """One readable line per problem, each naming the field: ``occurred_at: timestamp … has no UTC offset``."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(event)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
