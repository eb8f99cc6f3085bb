-- Recompute hour_metrics for the given halls and hours from minute_metrics FINAL.
-- Bound parameters: {halls:Array(String)}, {from:DateTime}, {to:DateTime} (UTC, hour-aligned),
-- {version:UInt64}.
INSERT INTO hour_metrics
SELECT hall_id, category, toStartOfHour(minute) AS hour,
       sum(issued), sum(visits_served), sum(abandoned), sum(transfers), sum(called),
       sum(within_target), sum(wait_sum_s), max(wait_max_s), sum(transactions),
       sum(handle_sum_s), sum(handle_ratio_sum), sum(first_contact), sum(csat_n),
       sum(csat_sum), sum(csat_satisfied), sum(audit_n), sum(audit_sum), sum(complaints),
       sum(complaints_escalated), max(queue_len), max(longest_wait_s), max(est_wait_s),
       {version:UInt64}
FROM minute_metrics FINAL
WHERE hall_id IN {halls:Array(String)}
  AND minute >= {from:DateTime} AND minute < {to:DateTime}
GROUP BY hall_id, category, hour
