"""One typed record per ClickHouse table the sink writes: its columns, in order, with their types.

Each table is a msgspec ``Struct`` whose fields are the table's columns in the order of
``system.columns`` after the migrations (``sinks/migrations/``), each annotated with the
ClickHouse type that ``system.columns`` reports. From the record come the column list of
every INSERT (:func:`columns`), the DDL check (``tests/test_tables.py`` compares
:func:`ch_types` with a freshly migrated store) and the check of the roll-up SQL
(``sinks/queries/rollup_*.sql`` must select the metric tables' columns in this order).
A writer builds rows as these records and hands :func:`values` to the store.

A new column is a migration *and* a field here; the test fails until both agree.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, ClassVar, Iterable, get_type_hints

import msgspec


class CH(msgspec.Struct, frozen=True):
    """A column's ClickHouse type, spelled as ``system.columns.type`` spells it."""

    type: str


Str = Annotated[str, CH("String")]
LowStr = Annotated[str, CH("LowCardinality(String)")]
U8 = Annotated[int, CH("UInt8")]
U16 = Annotated[int, CH("UInt16")]
U32 = Annotated[int, CH("UInt32")]
U64 = Annotated[int, CH("UInt64")]
F64 = Annotated[float, CH("Float64")]
Time = Annotated[datetime, CH("DateTime64(3, 'UTC')")]
MaybeTime = Annotated[datetime | None, CH("Nullable(DateTime64(3, 'UTC'))")]
Minute = Annotated[datetime, CH("DateTime('UTC')")]  # naive UTC
Day = Annotated[date, CH("Date")]
Strs = Annotated[list[str], CH("Array(String)")]
Scores = Annotated[dict[str, int], CH("Map(String, UInt8)")]
Figures = Annotated[dict[str, float], CH("Map(String, Float64)")]


class Row(msgspec.Struct):
    """A row of :attr:`table`; subclasses are the registry (:data:`TABLES`)."""

    table: ClassVar[str]


# ---- the core facts (0001_core.sql, 0003_facts.sql) --------------------------------------------
class VisitEventRow(Row):
    table = "visit_events"
    hall_id: Str
    visit_id: Str
    event_id: Str
    kind: LowStr
    occurred_at: Time
    started_at: MaybeTime
    category: LowStr
    to_category: LowStr
    ticket_no: Str
    counter_id: Str
    staff_id: Str
    priority: LowStr
    channel: LowStr
    business_code: LowStr
    outcome: LowStr
    resolved_first_contact: U8
    late: U8
    received_at: Time


class VisitRow(Row):
    table = "visits"
    visit_id: Str
    hall_id: Str
    category: LowStr
    ticket_no: Str
    priority: LowStr
    channel: LowStr
    issued_at: Time
    first_called_at: MaybeTime
    ended_at: MaybeTime
    status: LowStr
    served: U8
    abandoned: U8
    expired: U8
    segments: U8
    total_wait_s: F64
    transactions: U16
    inferred_calls: U8
    expires_at: MaybeTime
    version: U32


class SegmentRow(Row):
    table = "wait_segments"
    visit_id: Str
    seg_no: U8
    hall_id: Str
    category: LowStr
    ticket_no: Str
    waited_from: Time
    called_at: Time
    wait_s: F64
    target_s: F64
    within_target: U8
    inferred: U8
    counted: U8
    counter_id: Str
    staff_id: Str
    version: U32


class TransactionRow(Row):
    table = "transactions"
    event_id: Str
    hall_id: Str
    visit_id: Str
    ticket_no: Str
    counter_id: Str
    staff_id: Str
    category: LowStr
    business_code: LowStr
    started_at: Time
    completed_at: Time
    handle_s: F64
    standard_handle_s: F64
    outcome: LowStr
    resolved_first_contact: U8


class SurveyRow(Row):
    table = "surveys"
    event_id: Str
    hall_id: Str
    kind: LowStr
    visit_id: Str
    staff_id: Str
    category: LowStr
    channel: LowStr
    answered_at: Time
    score: U8
    dimensions: Scores
    has_complaint: U8
    complaint_category: LowStr
    complaint_severity: LowStr
    complaint_text: Str
    comment: Str
    late: U8


class AlertRow(Row):
    table = "alerts"
    alert_id: Str
    action: LowStr
    hall_id: Str
    category: LowStr
    rule: LowStr
    level: LowStr
    occurred_at: Time
    opened_at: Time
    triggers: Strs
    figures: Figures
    suggested_action: Str


class GaugeRow(Row):
    """The queue gauges at the end of a minute (the worker's ``GAUGE_COLUMNS``, and a version)."""

    table = "minute_gauges"
    hall_id: LowStr
    category: LowStr
    minute: Minute
    queue_len: U32
    longest_wait_s: F64
    active_counters: U16
    est_wait_s: F64
    version: U64


# ---- the aggregates, written by the roll-up SQL over the facts --------------------------------
# The sums of the fact_sums view, shared by the three tables in this order; counts are
# UInt32 in minute_metrics and UInt64 in hour_metrics and day_metrics.
SUMS: tuple[tuple[str, bool], ...] = (  # (column, is a count)
    ("issued", True), ("visits_served", True), ("abandoned", True), ("transfers", True), ("called", True),
    ("within_target", True), ("wait_sum_s", False), ("wait_max_s", False), ("transactions", True),
    ("handle_sum_s", False), ("handle_ratio_sum", False), ("first_contact", True), ("csat_n", True),
    ("csat_sum", True), ("csat_satisfied", True), ("audit_n", True), ("audit_sum", True), ("complaints", True),
    ("complaints_escalated", True),
)


def _metrics(name: str, table: str, bucket: tuple[str, Any], count: Any, tail: list[tuple[str, Any]]) -> type[Row]:
    fields = [("hall_id", LowStr), ("category", LowStr), bucket,
              *((col, count if is_count else F64) for col, is_count in SUMS), *tail, ("version", U64)]
    return msgspec.defstruct(name, fields, bases=(Row,), namespace={"table": table, "__module__": __name__})


_HOUR_TAIL = [("queue_len_max", U32), ("longest_wait_max_s", F64), ("est_wait_max_s", F64)]
MinuteMetricsRow = _metrics("MinuteMetricsRow", "minute_metrics", ("minute", Minute), U32,
                            [("queue_len", U32), ("longest_wait_s", F64), ("active_counters", U16),
                             ("est_wait_s", F64)])
HourMetricsRow = _metrics("HourMetricsRow", "hour_metrics", ("hour", Minute), U64, _HOUR_TAIL)
DayMetricsRow = _metrics("DayMetricsRow", "day_metrics", ("day", Day), U64,
                         [*_HOUR_TAIL, ("expired_visits", U64), ("inferred_calls", U64), ("silent_minutes", F64),
                          ("late_events", U64)])


# ---- reference data, assessment, bookkeeping --------------------------------------------------
class HallRow(Row):
    table = "halls"
    hall_id: Str
    name: Str
    name_en: Str
    city: LowStr
    province: LowStr
    size_class: LowStr
    counters: U16
    opens: Str
    closes: Str
    loaded_at: Time


class HallTargetRow(Row):
    table = "hall_category_targets"
    hall_id: Str
    category: LowStr
    target_wait_s: F64
    standard_handle_s: F64
    loaded_at: Time


class AssessmentVersionRow(Row):
    table = "assessment_versions"
    period: Str
    version: U32
    version_id: Str
    published_at: Time
    published_by: Str
    reason: Str
    appeal_ids: Strs
    appeals: Str   # JSON
    scheme: Str    # JSON
    results: Str   # JSON
    forced: U8     # 1 = published before the period ended (publish --force)


class AppealRow(Row):
    table = "appeals"
    appeal_id: Str
    period: Str
    hall_id: Str
    kind: LowStr
    exclude_from: Time
    exclude_to: Time
    survey_id: Str
    reason: Str
    filed_by: Str
    filed_at: Time
    against_version: U32


class AppealDecisionRow(Row):
    table = "appeal_decisions"
    appeal_id: Str
    decision: LowStr
    decided_by: Str
    decided_at: Time
    reason: Str
    version: U32


class MigrationRow(Row):
    table = "schema_migrations"
    version: U32
    name: Str
    applied_at: Time


TABLES: dict[str, type[Row]] = {r.table: r for r in (
    VisitEventRow, VisitRow, SegmentRow, TransactionRow, SurveyRow, AlertRow, GaugeRow,
    MinuteMetricsRow, HourMetricsRow, DayMetricsRow,
    HallRow, HallTargetRow, AssessmentVersionRow, AppealRow, AppealDecisionRow, MigrationRow,
)}


@cache
def columns(record: type[Row]) -> tuple[str, ...]:
    """The table's column names, in order."""
    return record.__struct_fields__


@cache
def ch_types(record: type[Row]) -> dict[str, str]:
    """Column name -> ClickHouse type, in order."""
    hints = get_type_hints(record, include_extras=True)
    return {name: next(m.type for m in hints[name].__metadata__ if isinstance(m, CH)) for name in columns(record)}


def values(rows: Iterable[Row]) -> list[tuple]:
    """The rows as tuples in column order, for ``Store.insert``."""
    return [msgspec.structs.astuple(r) for r in rows]
