-- Recompute day_metrics (business day in Asia/Shanghai) for the given halls and days
-- from hour_metrics FINAL (hours never straddle a Shanghai day: its offset is whole hours).
-- Bound parameters: {halls:Array(String)}, {from_day:Date}, {to_day:Date} (to exclusive),
-- {version:UInt64}.
INSERT INTO day_metrics
SELECT hall_id, category, toDate(hour, 'Asia/Shanghai') AS day,
       sum(issued), sum(visits_served), sum(abandoned), sum(transfers), sum(called),
       sum(within_target), sum(wait_sum_s), max(wait_max_s), sum(transactions),
       sum(handle_sum_s), sum(handle_ratio_sum), sum(first_contact), sum(csat_n),
       sum(csat_sum), sum(csat_satisfied), sum(audit_n), sum(audit_sum), sum(complaints),
       sum(complaints_escalated), max(queue_len_max), max(longest_wait_max_s), max(est_wait_max_s),
       {version:UInt64}
FROM hour_metrics FINAL
WHERE hall_id IN {halls:Array(String)}
  AND hour >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND hour < toDateTime({to_day:Date}, 'Asia/Shanghai')
GROUP BY hall_id, category, day
