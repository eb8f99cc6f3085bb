-- The (hall, business day in Asia/Shanghai) pairs that the stored facts of some halls
-- touch within [lo, hi), as touched_hours.sql, for rollup_day.sql.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)}.
SELECT DISTINCT hall_id, toDate(t, 'Asia/Shanghai') AS day
FROM
(
    SELECT hall_id, occurred_at AS t FROM visit_events
    WHERE hall_id IN {halls:Array(String)} AND occurred_at >= {lo:DateTime64(3)} AND occurred_at < {hi:DateTime64(3)}
    UNION ALL
    SELECT hall_id, answered_at FROM surveys
    WHERE hall_id IN {halls:Array(String)} AND answered_at >= {lo:DateTime64(3)} AND answered_at < {hi:DateTime64(3)}
)
ORDER BY hall_id, day
