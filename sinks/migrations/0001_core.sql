-- 0001: the hall catalogue, fact tables, minute aggregates and their hour/day roll-ups.
--
-- Conventions
-- * Every instant is stored in UTC (DateTime64(3, 'UTC') / DateTime('UTC')); days and
--   periods are taken in Asia/Shanghai at query time: toDate(t, 'Asia/Shanghai').
-- * Rows are written by the worker as full recomputations, never as increments, into
--   ReplacingMergeTree tables keyed by their natural identity. Replaying the same events
--   therefore leaves the same rows; read with FINAL (or argMax on version).
-- * {ttl_months} is filled in from [store].ttl_months when the migration is applied.

CREATE TABLE IF NOT EXISTS halls
(
    hall_id     String,
    name        String,
    name_en     String,
    city        LowCardinality(String),
    province    LowCardinality(String),
    size_class  LowCardinality(String),
    counters    UInt16,
    opens       String,
    closes      String,
    loaded_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY hall_id;

CREATE TABLE IF NOT EXISTS hall_category_targets
(
    hall_id            String,
    category           LowCardinality(String),
    target_wait_s      Float64,
    standard_handle_s  Float64,
    loaded_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (hall_id, category);

-- One row per visit once its `issued` event is known.
CREATE TABLE IF NOT EXISTS visits
(
    visit_id        String,
    hall_id         String,
    category        LowCardinality(String),   -- the category it was issued in
    ticket_no       String,
    priority        LowCardinality(String),
    channel         LowCardinality(String),
    issued_at       DateTime64(3, 'UTC'),
    first_called_at Nullable(DateTime64(3, 'UTC')),
    ended_at        Nullable(DateTime64(3, 'UTC')),
    status          LowCardinality(String),   -- waiting | in_service | served | abandoned
    served          UInt8,
    abandoned       UInt8,
    segments        UInt8,
    total_wait_s    Float64,
    transactions    UInt16,
    version         UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(issued_at)
ORDER BY (hall_id, issued_at, visit_id)
TTL toDateTime(issued_at) + INTERVAL {ttl_months} MONTH;

-- One row per wait segment (issued or transferred -> next first call).
CREATE TABLE IF NOT EXISTS wait_segments
(
    visit_id       String,
    seg_no         UInt8,
    hall_id        String,
    category       LowCardinality(String),
    ticket_no      String,
    waited_from    DateTime64(3, 'UTC'),
    called_at      DateTime64(3, 'UTC'),
    wait_s         Float64,
    target_s       Float64,
    within_target  UInt8,
    counter_id     String,
    staff_id       String,
    version        UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(called_at)
ORDER BY (hall_id, visit_id, seg_no)
TTL toDateTime(called_at) + INTERVAL {ttl_months} MONTH;

CREATE TABLE IF NOT EXISTS transactions
(
    event_id                String,
    hall_id                 String,
    visit_id                String,
    ticket_no               String,
    counter_id              String,
    staff_id                String,
    category                LowCardinality(String),
    business_code           LowCardinality(String),
    started_at              DateTime64(3, 'UTC'),
    completed_at            DateTime64(3, 'UTC'),
    handle_s                Float64,
    standard_handle_s       Float64,
    outcome                 LowCardinality(String),
    resolved_first_contact  UInt8
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(completed_at)
ORDER BY (hall_id, completed_at, event_id)
TTL toDateTime(completed_at) + INTERVAL {ttl_months} MONTH;

-- Phone and ID numbers in free text are masked before a row is written.
CREATE TABLE IF NOT EXISTS surveys
(
    event_id            String,
    hall_id             String,
    kind                LowCardinality(String),
    visit_id            String,
    staff_id            String,
    category            LowCardinality(String),   -- of the visit, '' when unknown
    channel             LowCardinality(String),
    answered_at         DateTime64(3, 'UTC'),
    score               UInt8,
    dimensions          Map(String, UInt8),
    has_complaint       UInt8,
    complaint_category  LowCardinality(String),
    complaint_severity  LowCardinality(String),
    complaint_text      String,
    comment             String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(answered_at)
ORDER BY (hall_id, answered_at, event_id)
TTL toDateTime(answered_at) + INTERVAL {ttl_months} MONTH;

CREATE VIEW IF NOT EXISTS complaints AS
SELECT event_id, hall_id, kind, visit_id, staff_id, category, channel, answered_at,
       complaint_category, complaint_severity, complaint_text
FROM surveys FINAL
WHERE has_complaint = 1;

CREATE TABLE IF NOT EXISTS alerts
(
    alert_id          String,
    action            LowCardinality(String),   -- opened | escalated | closed
    hall_id           String,
    category          LowCardinality(String),   -- a category, or 'all' for hall-wide rules
    rule              LowCardinality(String),   -- queue | complaint_spike
    level             LowCardinality(String),   -- warning | critical
    occurred_at       DateTime64(3, 'UTC'),
    opened_at         DateTime64(3, 'UTC'),
    triggers          Array(String),
    figures           Map(String, Float64),
    suggested_action  String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (hall_id, occurred_at, alert_id, action)
TTL toDateTime(occurred_at) + INTERVAL {ttl_months} MONTH;

-- Minute aggregates per hall x category; category = 'all' is the whole hall.
-- Counting rules (domain.md §3): a visit counts in the minute of its `issued`, a wait
-- segment in the minute of its first call, a transaction in the minute it completed,
-- a survey in the minute it was answered. Gauges are taken at the end of the minute.
CREATE TABLE IF NOT EXISTS minute_metrics
(
    hall_id               LowCardinality(String),
    category              LowCardinality(String),
    minute                DateTime('UTC'),
    issued                UInt32,   -- visits issued
    visits_served         UInt32,   -- of those, with at least one transaction
    abandoned             UInt32,   -- of those, ended in no_show
    transfers             UInt32,
    called                UInt32,   -- wait segments ended by a first call
    within_target         UInt32,
    wait_sum_s            Float64,
    wait_max_s            Float64,
    transactions          UInt32,
    handle_sum_s          Float64,
    handle_ratio_sum      Float64,  -- sum of handle time / category standard
    first_contact         UInt32,
    csat_n                UInt32,   -- customer surveys
    csat_sum              UInt32,
    csat_satisfied        UInt32,   -- score >= 9
    audit_n               UInt32,   -- mystery shopper + inspection
    audit_sum             UInt32,
    complaints            UInt32,
    complaints_escalated  UInt32,
    queue_len             UInt32,
    longest_wait_s        Float64,
    active_counters       UInt16,
    est_wait_s            Float64,
    version               UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (hall_id, category, minute)
TTL minute + INTERVAL {ttl_months} MONTH;

-- Roll-ups, recomputed by the sink from minute_metrics FINAL for every hour and day it
-- touched (sinks/queries/rollup_*.sql), so they stay exact under late events and replays.
CREATE TABLE IF NOT EXISTS hour_metrics
(
    hall_id               LowCardinality(String),
    category              LowCardinality(String),
    hour                  DateTime('UTC'),
    issued                UInt64,
    visits_served         UInt64,
    abandoned             UInt64,
    transfers             UInt64,
    called                UInt64,
    within_target         UInt64,
    wait_sum_s            Float64,
    wait_max_s            Float64,
    transactions          UInt64,
    handle_sum_s          Float64,
    handle_ratio_sum      Float64,
    first_contact         UInt64,
    csat_n                UInt64,
    csat_sum              UInt64,
    csat_satisfied        UInt64,
    audit_n               UInt64,
    audit_sum             UInt64,
    complaints            UInt64,
    complaints_escalated  UInt64,
    queue_len_max         UInt32,
    longest_wait_max_s    Float64,
    est_wait_max_s        Float64,
    version               UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (hall_id, category, hour)
TTL hour + INTERVAL {ttl_months} MONTH;

-- `day` is the business day in Asia/Shanghai.
CREATE TABLE IF NOT EXISTS day_metrics
(
    hall_id               LowCardinality(String),
    category              LowCardinality(String),
    day                   Date,
    issued                UInt64,
    visits_served         UInt64,
    abandoned             UInt64,
    transfers             UInt64,
    called                UInt64,
    within_target         UInt64,
    wait_sum_s            Float64,
    wait_max_s            Float64,
    transactions          UInt64,
    handle_sum_s          Float64,
    handle_ratio_sum      Float64,
    first_contact         UInt64,
    csat_n                UInt64,
    csat_sum              UInt64,
    csat_satisfied        UInt64,
    audit_n               UInt64,
    audit_sum             UInt64,
    complaints            UInt64,
    complaints_escalated  UInt64,
    queue_len_max         UInt32,
    longest_wait_max_s    Float64,
    est_wait_max_s        Float64,
    version               UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (hall_id, category, day)
TTL day + INTERVAL {ttl_months} MONTH;
