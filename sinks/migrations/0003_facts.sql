-- 0003: figures that hold under catch-up, skew and restarts (domain.md §3 "Late data is
-- never lost").
--
-- * visit_events keeps every accepted ticket event and transaction of a visit, however
--   late it arrives. The fact writer re-derives a visit and its wait segments from *all*
--   of its stored events (streams/visits.py), so a transaction or survey for a visit the
--   worker has long forgotten still completes that visit's facts.
-- * minute, hour and day aggregates are derived by SQL from the facts
--   (sinks/queries/rollup_*.sql over the fact_values view below); the worker contributes
--   only the queue gauges (minute_gauges) and alerts, which need live state.
-- * Data quality per hall-day (day_metrics): calls inferred from a start or a
--   transaction, visits expired at closing, minutes the feed was silent in opening
--   hours, events that arrived later than the grace.

CREATE TABLE IF NOT EXISTS visit_events
(
    hall_id                 String,
    visit_id                String,
    event_id                String,
    kind                    LowCardinality(String),   -- issued | called | recalled | transferred | started | no_show | tx
    occurred_at             DateTime64(3, 'UTC'),     -- event time (a transaction: completed_at)
    started_at              Nullable(DateTime64(3, 'UTC')),  -- a transaction's start
    category                LowCardinality(String),
    to_category             LowCardinality(String),
    ticket_no               String,
    counter_id              String,
    staff_id                String,
    priority                LowCardinality(String),
    channel                 LowCardinality(String),
    business_code           LowCardinality(String),
    outcome                 LowCardinality(String),
    resolved_first_contact  UInt8,
    late                    UInt8,                    -- arrived later than the grace
    received_at             DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (hall_id, visit_id, event_id)
TTL toDateTime(occurred_at) + INTERVAL {ttl_months} MONTH;

ALTER TABLE visits ADD COLUMN IF NOT EXISTS expired UInt8 AFTER abandoned;
ALTER TABLE visits ADD COLUMN IF NOT EXISTS inferred_calls UInt8 AFTER transactions;
ALTER TABLE visits ADD COLUMN IF NOT EXISTS expires_at Nullable(DateTime64(3, 'UTC')) AFTER inferred_calls;
ALTER TABLE wait_segments ADD COLUMN IF NOT EXISTS inferred UInt8 AFTER within_target;
-- 0 for the segments of an expired visit: it counts in no wait (domain.md §3)
ALTER TABLE wait_segments ADD COLUMN IF NOT EXISTS counted UInt8 DEFAULT 1 AFTER inferred;
ALTER TABLE surveys ADD COLUMN IF NOT EXISTS late UInt8;

ALTER TABLE day_metrics ADD COLUMN IF NOT EXISTS expired_visits UInt64 AFTER est_wait_max_s;
ALTER TABLE day_metrics ADD COLUMN IF NOT EXISTS inferred_calls UInt64 AFTER expired_visits;
ALTER TABLE day_metrics ADD COLUMN IF NOT EXISTS silent_minutes Float64 AFTER inferred_calls;
ALTER TABLE day_metrics ADD COLUMN IF NOT EXISTS late_events UInt64 AFTER silent_minutes;

-- Queue gauges at the end of each minute, written by the worker while the hall is live.
CREATE TABLE IF NOT EXISTS minute_gauges
(
    hall_id          LowCardinality(String),
    category         LowCardinality(String),
    minute           DateTime('UTC'),
    queue_len        UInt32,
    longest_wait_s   Float64,
    active_counters  UInt16,
    est_wait_s       Float64,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (hall_id, category, minute)
TTL minute + INTERVAL {ttl_months} MONTH;

-- Every fact as (hall, categories it counts in, instant, figure names, values), for the
-- roll-ups to sum. Parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)}
-- (UTC, half-open), {now:DateTime64(3)}, {silent_after_s:Float64}, {with_silence:UInt8}.
-- Counting rules (domain.md §3): a visit on its issue, a wait segment on its call, a
-- transfer when it happened (in the queue it opened), a transaction when it completed, a
-- survey when it was answered (in its visit's category when known), a late event at its
-- own time (hall-wide only). A gauge row counts only in its own category. With
-- with_silence = 1, each hall-day with ticket or transaction events also gets its silent
-- minutes: within opening hours, every gap between consecutive events (opening and closing
-- as bounds) beyond silent_after_s; a closing still ahead of `now` bounds no gap yet.
CREATE VIEW IF NOT EXISTS fact_values AS
WITH visit_categories AS
(
    SELECT visit_id, any(category) AS category
    FROM visits
    WHERE hall_id IN {halls:Array(String)}
    GROUP BY visit_id
)
SELECT hall_id, cats, t, names, vals
FROM
(
    SELECT hall_id, [toString(category), 'all'] AS cats, issued_at AS t,
           ['issued', 'visits_served', 'abandoned', 'expired_visits'] AS names,
           [1, toFloat64(served), toFloat64(abandoned), toFloat64(expired)] AS vals
    FROM visits FINAL
    WHERE hall_id IN {halls:Array(String)} AND issued_at >= {lo:DateTime64(3)} AND issued_at < {hi:DateTime64(3)}

    UNION ALL
    SELECT hall_id, [toString(category), 'all'], called_at,
           ['called', 'within_target', 'wait_sum_s', 'wait_max_s', 'inferred_calls'],
           [1, toFloat64(within_target), wait_s, wait_s, toFloat64(inferred)]
    FROM wait_segments FINAL
    WHERE hall_id IN {halls:Array(String)} AND called_at >= {lo:DateTime64(3)} AND called_at < {hi:DateTime64(3)}
      AND counted = 1

    UNION ALL
    SELECT hall_id, [toString(to_category), 'all'], occurred_at, ['transfers'], [1.]
    FROM visit_events FINAL
    WHERE hall_id IN {halls:Array(String)} AND occurred_at >= {lo:DateTime64(3)} AND occurred_at < {hi:DateTime64(3)}
      AND kind = 'transferred' AND visit_id IN (SELECT visit_id FROM visit_categories)

    UNION ALL
    SELECT hall_id, [toString(category), 'all'], completed_at,
           ['transactions', 'handle_sum_s', 'handle_ratio_sum', 'first_contact'],
           [1, handle_s, handle_s / standard_handle_s, toFloat64(resolved_first_contact)]
    FROM transactions FINAL
    WHERE hall_id IN {halls:Array(String)} AND completed_at >= {lo:DateTime64(3)} AND completed_at < {hi:DateTime64(3)}

    UNION ALL
    SELECT s.hall_id, arrayFilter(c -> c != '', [toString(v.category), 'all']), s.answered_at,
           arrayConcat(if(s.kind = 'customer', ['csat_n', 'csat_sum', 'csat_satisfied'], ['audit_n', 'audit_sum']),
                       if(s.has_complaint = 1, ['complaints', 'complaints_escalated'], [])),
           arrayConcat(if(s.kind = 'customer', [1, toFloat64(s.score), toFloat64(s.score >= 9)], [1, toFloat64(s.score)]),
                       if(s.has_complaint = 1, [1, toFloat64(s.complaint_severity = 'escalated')], []))
    FROM (SELECT * FROM surveys FINAL
          WHERE hall_id IN {halls:Array(String)} AND answered_at >= {lo:DateTime64(3)} AND answered_at < {hi:DateTime64(3)}) AS s
    LEFT JOIN visit_categories AS v ON v.visit_id = s.visit_id
    SETTINGS join_use_nulls = 0

    UNION ALL
    SELECT hall_id, ['all'], occurred_at, ['late_events'], [1.]
    FROM visit_events FINAL
    WHERE hall_id IN {halls:Array(String)} AND occurred_at >= {lo:DateTime64(3)} AND occurred_at < {hi:DateTime64(3)}
      AND late = 1

    UNION ALL
    SELECT hall_id, ['all'], answered_at, ['late_events'], [1.]
    FROM surveys FINAL
    WHERE hall_id IN {halls:Array(String)} AND answered_at >= {lo:DateTime64(3)} AND answered_at < {hi:DateTime64(3)}
      AND late = 1

    UNION ALL
    SELECT hall_id, [toString(category)], minute,
           ['queue_len', 'longest_wait_s', 'active_counters', 'est_wait_s'],
           [toFloat64(queue_len), longest_wait_s, toFloat64(active_counters), est_wait_s]
    FROM minute_gauges FINAL
    WHERE hall_id IN {halls:Array(String)} AND minute >= {lo:DateTime64(3)} AND minute < {hi:DateTime64(3)}

    UNION ALL
    SELECT hall_id, ['all'], toTimeZone(opens_at, 'UTC'), ['silent_minutes'],
           -- in whole milliseconds: differences of epoch seconds as floats would lose precision
           [arraySum(arrayMap(g -> greatest(toInt64(0), g - toInt64({silent_after_s:Float64} * 1000)),
                     arrayDifference(arraySort(arrayConcat([toUnixTimestamp64Milli(opens_at)],
                         arrayFilter(x -> x >= toUnixTimestamp64Milli(opens_at) AND x <= toUnixTimestamp64Milli(closes_at),
                                     groupArray(ts)),
                         [toUnixTimestamp64Milli(closes_at)]))))) / 60000]
    FROM
    (
        SELECT e.hall_id AS hall_id, toUnixTimestamp64Milli(e.occurred_at) AS ts,
               toDateTime64(concat(toString(toDate(e.occurred_at, 'Asia/Shanghai')), ' ', h.opens, ':00'), 3, 'Asia/Shanghai') AS opens_at,
               least(toDateTime64(concat(toString(toDate(e.occurred_at, 'Asia/Shanghai')), ' ', h.closes, ':00'), 3, 'Asia/Shanghai'),
                     {now:DateTime64(3)}) AS closes_at
        FROM visit_events AS e FINAL
        INNER JOIN (SELECT hall_id, opens, closes FROM halls FINAL) AS h ON h.hall_id = e.hall_id
        WHERE {with_silence:UInt8} = 1
          AND e.hall_id IN {halls:Array(String)} AND e.occurred_at >= {lo:DateTime64(3)} AND e.occurred_at < {hi:DateTime64(3)}
    )
    GROUP BY hall_id, opens_at, closes_at
);

-- The facts summed per hall, category and bucket ('minute', 'hour', or 'day': the business
-- day in Asia/Shanghai, as the UTC instant it starts), with the gauges' maxima. Parameters:
-- {bucket:String} and those of fact_values. The roll-ups (sinks/queries/rollup_*.sql)
-- insert from here.
CREATE VIEW IF NOT EXISTS fact_sums AS
SELECT hall_id, category,
       multiIf({bucket:String} = 'minute', toStartOfMinute(toDateTime(t, 'UTC')),
               {bucket:String} = 'hour', toStartOfHour(toDateTime(t, 'UTC')),
               toDateTime(toStartOfDay(toDateTime(t), 'Asia/Shanghai'), 'UTC')) AS bucket,
       sumIf(value, name = 'issued') AS issued, sumIf(value, name = 'visits_served') AS visits_served,
       sumIf(value, name = 'abandoned') AS abandoned, sumIf(value, name = 'transfers') AS transfers,
       sumIf(value, name = 'called') AS called, sumIf(value, name = 'within_target') AS within_target,
       sumIf(value, name = 'wait_sum_s') AS wait_sum_s, maxIf(value, name = 'wait_max_s') AS wait_max_s,
       sumIf(value, name = 'transactions') AS transactions, sumIf(value, name = 'handle_sum_s') AS handle_sum_s,
       sumIf(value, name = 'handle_ratio_sum') AS handle_ratio_sum, sumIf(value, name = 'first_contact') AS first_contact,
       sumIf(value, name = 'csat_n') AS csat_n, sumIf(value, name = 'csat_sum') AS csat_sum,
       sumIf(value, name = 'csat_satisfied') AS csat_satisfied, sumIf(value, name = 'audit_n') AS audit_n,
       sumIf(value, name = 'audit_sum') AS audit_sum, sumIf(value, name = 'complaints') AS complaints,
       sumIf(value, name = 'complaints_escalated') AS complaints_escalated,
       maxIf(value, name = 'queue_len') AS queue_len, maxIf(value, name = 'longest_wait_s') AS longest_wait_s,
       maxIf(value, name = 'active_counters') AS active_counters, maxIf(value, name = 'est_wait_s') AS est_wait_s,
       sumIf(value, name = 'expired_visits') AS expired_visits, sumIf(value, name = 'inferred_calls') AS inferred_calls,
       sumIf(value, name = 'silent_minutes') AS silent_minutes, sumIf(value, name = 'late_events') AS late_events
FROM fact_values(halls = {halls:Array(String)}, lo = {lo:DateTime64(3)}, hi = {hi:DateTime64(3)}, now = {now:DateTime64(3)},
                 silent_after_s = {silent_after_s:Float64}, with_silence = {with_silence:UInt8})
ARRAY JOIN cats AS category
ARRAY JOIN names AS name, vals AS value
GROUP BY hall_id, category, bucket;
