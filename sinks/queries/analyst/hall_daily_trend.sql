-- 单个营业厅的每日趋势：取号量、平均等候等
-- Daily trend for one hall: tickets, waits, mean wait, satisfaction, complaints.
--
-- One row per business day (Asia/Shanghai) from {from_day} up to, not including, {to_day};
-- days without activity are included as zeros. A visit counts on the day of its `issued`,
-- a wait on the day of its first call, a survey on the day it was answered. Hall totals
-- (category = 'all').
-- Source: day_metrics FINAL.
--
-- Parameters:
--   {hall_id:String}   the hall, e.g. JS-NJ-0002
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
SELECT
    day,
    sum(issued)                                                     AS visits,
    sum(visits_served)                                              AS served,
    sum(abandoned)                                                  AS abandoned,
    sum(called)                                                     AS waits,
    round(sum(wait_sum_s) / nullIf(sum(called), 0) / 60, 1)         AS mean_wait_min,
    round(max(wait_max_s) / 60, 1)                                  AS max_wait_min,
    round(sum(within_target) / nullIf(sum(called), 0), 3)           AS within_target_share,
    sum(transactions)                                               AS transactions,
    sum(csat_n)                                                     AS surveys,
    round(sum(csat_sum) / nullIf(sum(csat_n), 0), 2)                AS mean_score,
    sum(complaints)                                                 AS complaints
FROM day_metrics FINAL
WHERE hall_id = {hall_id:String}
  AND category = 'all'
  AND day >= {from_day:Date} AND day < {to_day:Date}
GROUP BY day
ORDER BY day WITH FILL FROM {from_day:Date} TO {to_day:Date}
