-- The (hall, hour) pairs that the stored facts of some halls touch within [lo, hi): the
-- hours of their ticket events and transactions (visit_events) and of their surveys, as the
-- fact writer collects them (sinks/facts.py FactWriter.write, touch) for rollup_minute.sql
-- and rollup_hour.sql; their business days (Asia/Shanghai, whole hours ahead of UTC) are
-- the keys of rollup_day.sql.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)}.
SELECT DISTINCT hall_id, toStartOfHour(toDateTime(t, 'UTC')) AS hour
FROM
(
    SELECT hall_id, occurred_at AS t FROM visit_events
    WHERE hall_id IN {halls:Array(String)} AND occurred_at >= {lo:DateTime64(3)} AND occurred_at < {hi:DateTime64(3)}
    UNION ALL
    SELECT hall_id, answered_at FROM surveys
    WHERE hall_id IN {halls:Array(String)} AND answered_at >= {lo:DateTime64(3)} AND answered_at < {hi:DateTime64(3)}
)
ORDER BY hall_id, hour
