-- Per-hall sums and indicator values for one period, minus accepted appeals' exclusions.
--
-- Bound parameters:
--   {from_day:Date}, {to_day:Date}       business days in Asia/Shanghai, to_day exclusive
--   {ex_halls:Array(String)}, {ex_from:Array(DateTime64(3, 'UTC'))}, {ex_to:Array(DateTime64(3, 'UTC'))}
--                                         excluded intervals [from, to), one per position
--   {ex_surveys:Array(String)}, {ex_survey_halls:Array(String)}
--                                         excluded survey event_ids, and their halls (for the index)
--
-- Base: day_metrics FINAL, category 'all'. An excluded interval removes the hall's
-- minute_metrics rows whose minute starts inside it (and inside the period). An excluded
-- survey removes its own contribution, unless its minute is already removed by an
-- interval of the same hall (it must not be subtracted twice).
-- Values are in the scheme's units: %, minutes, score x10, per 10,000.
--
-- Data quality (domain.md §3), informational, never scored: inferred calls, expired
-- visits, silent minutes and late events, summed from the same day rows. minute_metrics
-- has no such columns, so an excluded interval does not subtract them: they describe the
-- feed over the whole period, appeals or not.
SELECT
    hall_id, name, name_en, city, province,
    issued, visits_served, abandoned, called, within_target, wait_sum_s, transactions,
    handle_ratio_sum, csat_n, csat_sum, audit_n, audit_sum, complaints,
    dq_inferred_calls, dq_expired_visits, dq_silent_minutes, dq_late_events,
    if(called > 0, 100 * within_target / called, NULL)               AS v_within_target,
    if(called > 0, wait_sum_s / called / 60, NULL)                    AS v_mean_wait,
    if(csat_n > 0, 10 * csat_sum / csat_n, NULL)                      AS v_satisfaction,
    if(visits_served > 0, 10000 * complaints / visits_served, NULL)   AS v_complaints,
    if(transactions > 0, 100 * handle_ratio_sum / transactions, NULL) AS v_handle,
    if(issued > 0, 100 * abandoned / issued, NULL)                    AS v_abandonment,
    if(audit_n > 0, audit_sum / audit_n, NULL)                        AS v_audit
FROM
(
    SELECT
        toString(b.hall_id) AS hall_id,
        if(h.name = '', toString(b.hall_id), h.name)       AS name,
        h.name_en                                          AS name_en,
        toString(h.city)                                   AS city,
        toString(h.province)                               AS province,
        greatest(toInt64(b.issued) - toInt64(m.issued), 0)                AS issued,
        greatest(toInt64(b.visits_served) - toInt64(m.visits_served), 0)  AS visits_served,
        greatest(toInt64(b.abandoned) - toInt64(m.abandoned), 0)          AS abandoned,
        greatest(toInt64(b.called) - toInt64(m.called), 0)                AS called,
        greatest(toInt64(b.within_target) - toInt64(m.within_target), 0)  AS within_target,
        greatest(b.wait_sum_s - m.wait_sum_s, 0)                          AS wait_sum_s,
        greatest(toInt64(b.transactions) - toInt64(m.transactions), 0)    AS transactions,
        greatest(b.handle_ratio_sum - m.handle_ratio_sum, 0)              AS handle_ratio_sum,
        greatest(toInt64(b.csat_n) - toInt64(m.csat_n) - toInt64(s.csat_n), 0)           AS csat_n,
        greatest(toInt64(b.csat_sum) - toInt64(m.csat_sum) - toInt64(s.csat_sum), 0)     AS csat_sum,
        greatest(toInt64(b.audit_n) - toInt64(m.audit_n) - toInt64(s.audit_n), 0)        AS audit_n,
        greatest(toInt64(b.audit_sum) - toInt64(m.audit_sum) - toInt64(s.audit_sum), 0)  AS audit_sum,
        greatest(toInt64(b.complaints) - toInt64(m.complaints) - toInt64(s.complaints), 0) AS complaints,
        toInt64(b.inferred_calls)                                         AS dq_inferred_calls,
        toInt64(b.expired_visits)                                         AS dq_expired_visits,
        b.silent_minutes                                                  AS dq_silent_minutes,
        toInt64(b.late_events)                                            AS dq_late_events
    FROM
    (
        SELECT hall_id,
               sum(issued) AS issued, sum(visits_served) AS visits_served, sum(abandoned) AS abandoned,
               sum(called) AS called, sum(within_target) AS within_target, sum(wait_sum_s) AS wait_sum_s,
               sum(transactions) AS transactions, sum(handle_ratio_sum) AS handle_ratio_sum,
               sum(csat_n) AS csat_n, sum(csat_sum) AS csat_sum, sum(audit_n) AS audit_n,
               sum(audit_sum) AS audit_sum, sum(complaints) AS complaints,
               sum(inferred_calls) AS inferred_calls, sum(expired_visits) AS expired_visits,
               sum(silent_minutes) AS silent_minutes, sum(late_events) AS late_events
        FROM day_metrics FINAL
        WHERE category = 'all' AND day >= {from_day:Date} AND day < {to_day:Date}
        GROUP BY hall_id
    ) AS b
    LEFT JOIN
    (
        SELECT hall_id,
               sum(issued) AS issued, sum(visits_served) AS visits_served, sum(abandoned) AS abandoned,
               sum(called) AS called, sum(within_target) AS within_target, sum(wait_sum_s) AS wait_sum_s,
               sum(transactions) AS transactions, sum(handle_ratio_sum) AS handle_ratio_sum,
               sum(csat_n) AS csat_n, sum(csat_sum) AS csat_sum, sum(audit_n) AS audit_n,
               sum(audit_sum) AS audit_sum, sum(complaints) AS complaints
        FROM minute_metrics FINAL
        WHERE category = 'all'
          AND hall_id IN {ex_halls:Array(String)}
          AND minute >= toDateTime({from_day:Date}, 'Asia/Shanghai')
          AND minute < toDateTime({to_day:Date}, 'Asia/Shanghai')
          AND arrayExists((eh, ef, et) -> eh = toString(hall_id) AND minute >= ef AND minute < et,
                          {ex_halls:Array(String)}, {ex_from:Array(DateTime64(3, 'UTC'))}, {ex_to:Array(DateTime64(3, 'UTC'))})
        GROUP BY hall_id
    ) AS m ON m.hall_id = b.hall_id
    LEFT JOIN
    (
        SELECT hall_id,
               countIf(kind = 'customer') AS csat_n,
               sumIf(toUInt64(score), kind = 'customer') AS csat_sum,
               countIf(kind IN ('mystery_shopper', 'inspection')) AS audit_n,
               sumIf(toUInt64(score), kind IN ('mystery_shopper', 'inspection')) AS audit_sum,
               countIf(has_complaint = 1) AS complaints
        FROM surveys FINAL
        WHERE hall_id IN {ex_survey_halls:Array(String)}
          AND event_id IN {ex_surveys:Array(String)}
          AND answered_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
          AND answered_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
          AND NOT arrayExists((eh, ef, et) -> eh = hall_id AND toStartOfMinute(answered_at) >= ef
                                             AND toStartOfMinute(answered_at) < et,
                              {ex_halls:Array(String)}, {ex_from:Array(DateTime64(3, 'UTC'))}, {ex_to:Array(DateTime64(3, 'UTC'))})
        GROUP BY hall_id
    ) AS s ON s.hall_id = b.hall_id
    LEFT JOIN
    (
        SELECT hall_id, name, name_en, city, province FROM halls FINAL
    ) AS h ON h.hall_id = b.hall_id
)
ORDER BY hall_id
