-- Recompute day_metrics (business day in Asia/Shanghai) from the facts (the fact_values
-- view) for the given (hall, day) pairs, with the day's data-quality figures: expired
-- visits, inferred calls, late events, and silent minutes — within the hall's opening
-- hours, every gap between consecutive ticket or transaction events (opening and closing
-- as bounds) beyond {silent_after_s} seconds; a closing still ahead of {now} does not
-- bound a gap yet. A row with no figures left is rewritten with zeros.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)} (UTC,
-- half-open, covering the days), {keys:Array(Tuple(String, Date))}, {now:DateTime64(3)},
-- {silent_after_s:Float64}, {version:UInt64}.
INSERT INTO day_metrics
SELECT hall_id, category, toDate(t, 'Asia/Shanghai') AS day,
       sumIf(value, name = 'issued'), sumIf(value, name = 'visits_served'), sumIf(value, name = 'abandoned'),
       sumIf(value, name = 'transfers'), sumIf(value, name = 'called'), sumIf(value, name = 'within_target'),
       sumIf(value, name = 'wait_sum_s'), maxIf(value, name = 'wait_max_s'), sumIf(value, name = 'transactions'),
       sumIf(value, name = 'handle_sum_s'), sumIf(value, name = 'handle_ratio_sum'),
       sumIf(value, name = 'first_contact'), sumIf(value, name = 'csat_n'), sumIf(value, name = 'csat_sum'),
       sumIf(value, name = 'csat_satisfied'), sumIf(value, name = 'audit_n'), sumIf(value, name = 'audit_sum'),
       sumIf(value, name = 'complaints'), sumIf(value, name = 'complaints_escalated'),
       maxIf(value, name = 'queue_len'), maxIf(value, name = 'longest_wait_s'), maxIf(value, name = 'est_wait_s'),
       sumIf(value, name = 'expired_visits'), sumIf(value, name = 'inferred_calls'),
       sumIf(value, name = 'silent_minutes'), sumIf(value, name = 'late_events'),
       {version:UInt64}
FROM
(
    SELECT hall_id, category, t, name, value
    FROM fact_values(halls = {halls:Array(String)}, lo = {lo:DateTime64(3)}, hi = {hi:DateTime64(3)})
    ARRAY JOIN cats AS category
    ARRAY JOIN names AS name, vals AS value
    UNION ALL
    SELECT hall_id, category, toDateTime64(day, 3, 'Asia/Shanghai'), 'issued', 0.
    FROM day_metrics FINAL
    WHERE hall_id IN {halls:Array(String)} AND day >= toDate({lo:DateTime64(3)}, 'Asia/Shanghai')
      AND day < toDate({hi:DateTime64(3)}, 'Asia/Shanghai')
    UNION ALL
    SELECT hall_id, 'all', opens_at, 'silent_minutes',
           -- in whole milliseconds: differences of epoch seconds as floats would lose precision
           arraySum(arrayMap(g -> greatest(toInt64(0), g - toInt64({silent_after_s:Float64} * 1000)),
                    arrayDifference(arraySort(arrayConcat([toUnixTimestamp64Milli(opens_at)],
                        arrayFilter(x -> x >= toUnixTimestamp64Milli(opens_at) AND x <= toUnixTimestamp64Milli(closes_at),
                                    groupArray(ts)),
                        [toUnixTimestamp64Milli(closes_at)]))))) / 60000
    FROM
    (
        SELECT e.hall_id AS hall_id, toUnixTimestamp64Milli(e.occurred_at) AS ts,
               toDateTime64(concat(toString(toDate(e.occurred_at, 'Asia/Shanghai')), ' ', h.opens, ':00'), 3, 'Asia/Shanghai') AS opens_at,
               least(toDateTime64(concat(toString(toDate(e.occurred_at, 'Asia/Shanghai')), ' ', h.closes, ':00'), 3, 'Asia/Shanghai'),
                     {now:DateTime64(3)}) AS closes_at
        FROM visit_events AS e FINAL
        INNER JOIN (SELECT hall_id, opens, closes FROM halls FINAL) AS h ON h.hall_id = e.hall_id
        WHERE e.hall_id IN {halls:Array(String)} AND e.occurred_at >= {lo:DateTime64(3)} AND e.occurred_at < {hi:DateTime64(3)}
    )
    GROUP BY hall_id, opens_at, closes_at
)
WHERE (hall_id, toDate(t, 'Asia/Shanghai')) IN {keys:Array(Tuple(String, Date))}
GROUP BY hall_id, category, day
