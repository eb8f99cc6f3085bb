-- 各营业厅万客户投诉率
-- Complaints per 10,000 customers served (万客户投诉率), by hall.
--
-- One row per hall, highest rate first: complaints (any survey kind) / visits served x
-- 10,000, as in the assessment. A complaint counts on the day its survey was answered, a
-- served visit on the day of its `issued`. Hall totals (category = 'all') of the daily roll-up.
-- Source: day_metrics FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
--   {limit:UInt32}     how many halls to return
SELECT
    d.hall_id                                                          AS hall_id,
    h.name                                                             AS hall_name,
    h.city                                                             AS city,
    sum(d.visits_served)                                               AS served,
    sum(d.complaints)                                                  AS complaints,
    sum(d.complaints_escalated)                                        AS escalated,
    round(sum(d.complaints) / nullIf(sum(d.visits_served), 0) * 10000, 1) AS complaints_per_10k
FROM day_metrics AS d FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = d.hall_id
WHERE d.category = 'all'
  AND d.day >= {from_day:Date} AND d.day < {to_day:Date}
  AND ({city:String} = '' OR h.city = {city:String})
GROUP BY d.hall_id, h.name, h.city
ORDER BY sum(d.complaints) / nullIf(sum(d.visits_served), 0) DESC NULLS LAST, hall_id
LIMIT {limit:UInt32}
