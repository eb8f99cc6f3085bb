-- Recompute day_metrics (business day in Asia/Shanghai) from the facts (the fact_sums
-- view) for the given (hall, day) pairs, with the day's data-quality figures: expired
-- visits, inferred calls, silent minutes, late events. A stored row with no facts
-- left is rewritten with zeros.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime64(3)}, {hi:DateTime64(3)} (UTC,
-- half-open, covering the days), {keys:Array(Tuple(String, Date))}, {now:DateTime64(3)},
-- {silent_after_s:Float64}, {version:UInt64}.
INSERT INTO day_metrics
SELECT hall_id, category, toDate(bucket, 'Asia/Shanghai') AS day, issued, visits_served, abandoned, transfers,
       called, within_target, wait_sum_s, wait_max_s, transactions, handle_sum_s, handle_ratio_sum, first_contact,
       csat_n, csat_sum, csat_satisfied, audit_n, audit_sum, complaints, complaints_escalated,
       queue_len AS queue_len_max, longest_wait_s AS longest_wait_max_s, est_wait_s AS est_wait_max_s, expired_visits,
       inferred_calls, silent_minutes, late_events, {version:UInt64} AS version
FROM fact_sums(bucket = 'day', halls = {halls:Array(String)}, lo = {lo:DateTime64(3)}, hi = {hi:DateTime64(3)},
               now = {now:DateTime64(3)}, silent_after_s = {silent_after_s:Float64}, with_silence = 1)
WHERE (hall_id, day) IN {keys:Array(Tuple(String, Date))}
UNION ALL  -- the keys' stored rows, zeroed one version below: a group whose facts moved away
SELECT hall_id, category, day, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {version:UInt64} - 1
FROM day_metrics FINAL
WHERE hall_id IN {halls:Array(String)} AND (hall_id, day) IN {keys:Array(Tuple(String, Date))}
