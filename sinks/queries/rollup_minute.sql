-- Recompute minute_metrics from the facts (the fact_sums view) for the given (hall, hour)
-- pairs: counts and sums of the facts in each minute, and the queue gauges at its end.
-- A stored row of those keys that has no facts left (an inferred call replaced by the real one
-- in another minute) is rewritten with zeros.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)} (UTC,
-- half-open, covering the keys), {keys:Array(Tuple(String, DateTime))}, {now:DateTime64(3)},
-- {silent_after_s:Float64}, {version:UInt64}.
INSERT INTO minute_metrics
SELECT hall_id, category, bucket AS minute, issued, visits_served, abandoned, transfers, called, within_target, wait_sum_s,
       wait_max_s, transactions, handle_sum_s, handle_ratio_sum, first_contact, csat_n, csat_sum, csat_satisfied,
       audit_n, audit_sum, complaints, complaints_escalated, queue_len, longest_wait_s, active_counters, est_wait_s,
       {version:UInt64} AS version
FROM fact_sums(bucket = 'minute', halls = {halls:Array(String)}, lo = {lo:DateTime64(3)}, hi = {hi:DateTime64(3)},
               now = {now:DateTime64(3)}, silent_after_s = {silent_after_s:Float64}, with_silence = 0)
WHERE (hall_id, toStartOfHour(bucket)) IN {keys:Array(Tuple(String, DateTime))}
UNION ALL  -- the keys' stored rows, zeroed one version below: a group whose facts moved away
SELECT hall_id, category, minute, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {version:UInt64} - 1
FROM minute_metrics FINAL
WHERE hall_id IN {halls:Array(String)} AND (hall_id, toStartOfHour(minute)) IN {keys:Array(Tuple(String, DateTime))}
