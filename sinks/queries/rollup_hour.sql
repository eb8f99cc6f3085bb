-- Recompute hour_metrics from the facts (the fact_sums view) for the given (hall, hour)
-- pairs; gauges are the hour's maxima of the minute gauges. A stored row with no facts
-- left is rewritten with zeros.
-- Bound parameters: as rollup_minute.sql.
INSERT INTO hour_metrics
SELECT hall_id, category, bucket AS hour, issued, visits_served, abandoned, transfers, called, within_target, wait_sum_s,
       wait_max_s, transactions, handle_sum_s, handle_ratio_sum, first_contact, csat_n, csat_sum, csat_satisfied,
       audit_n, audit_sum, complaints, complaints_escalated, queue_len AS queue_len_max,
       longest_wait_s AS longest_wait_max_s, est_wait_s AS est_wait_max_s, {version:UInt64} AS version
FROM fact_sums(bucket = 'hour', halls = {halls:Array(String)}, lo = {lo:DateTime64(3)}, hi = {hi:DateTime64(3)},
               now = {now:DateTime64(3)}, silent_after_s = {silent_after_s:Float64}, with_silence = 0)
WHERE (hall_id, bucket) IN {keys:Array(Tuple(String, DateTime))}
UNION ALL  -- the keys' stored rows, zeroed one version below: a group whose facts moved away
SELECT hall_id, category, hour, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {version:UInt64} - 1
FROM hour_metrics FINAL
WHERE hall_id IN {halls:Array(String)} AND (hall_id, hour) IN {keys:Array(Tuple(String, DateTime))}
