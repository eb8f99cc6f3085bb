-- Recompute hour_metrics from the facts (the fact_values view) for the given (hall, hour)
-- pairs; gauges are the hour's maxima of the minute gauges. A row with no figures left
-- is rewritten with zeros.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)} (UTC,
-- half-open, covering the keys), {keys:Array(Tuple(String, DateTime))}, {version:UInt64}.
INSERT INTO hour_metrics
SELECT hall_id, category, toStartOfHour(t) AS hour,
       sumIf(value, name = 'issued'), sumIf(value, name = 'visits_served'), sumIf(value, name = 'abandoned'),
       sumIf(value, name = 'transfers'), sumIf(value, name = 'called'), sumIf(value, name = 'within_target'),
       sumIf(value, name = 'wait_sum_s'), maxIf(value, name = 'wait_max_s'), sumIf(value, name = 'transactions'),
       sumIf(value, name = 'handle_sum_s'), sumIf(value, name = 'handle_ratio_sum'),
       sumIf(value, name = 'first_contact'), sumIf(value, name = 'csat_n'), sumIf(value, name = 'csat_sum'),
       sumIf(value, name = 'csat_satisfied'), sumIf(value, name = 'audit_n'), sumIf(value, name = 'audit_sum'),
       sumIf(value, name = 'complaints'), sumIf(value, name = 'complaints_escalated'),
       maxIf(value, name = 'queue_len'), maxIf(value, name = 'longest_wait_s'), maxIf(value, name = 'est_wait_s'),
       {version:UInt64}
FROM
(
    SELECT hall_id, category, t, name, value
    FROM fact_values(halls = {halls:Array(String)}, lo = {lo:DateTime64(3)}, hi = {hi:DateTime64(3)})
    ARRAY JOIN cats AS category
    ARRAY JOIN names AS name, vals AS value
    UNION ALL
    SELECT hall_id, category, hour, 'issued', 0.
    FROM hour_metrics FINAL
    WHERE hall_id IN {halls:Array(String)} AND hour >= {lo:DateTime64(3)} AND hour < {hi:DateTime64(3)}
)
WHERE (hall_id, toStartOfHour(t)) IN {keys:Array(Tuple(String, DateTime))}
GROUP BY hall_id, category, hour
