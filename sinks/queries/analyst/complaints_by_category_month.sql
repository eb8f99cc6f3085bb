-- 各月投诉分类统计
-- Complaints by category and month.
--
-- One row per calendar month (Asia/Shanghai) and complaint category: complaints from any
-- survey kind, how many were escalated, and the category's share of the month. A complaint
-- counts on the day its survey was answered.
-- Source: complaints (a view over surveys FINAL), halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
SELECT
    toStartOfMonth(toDate(c.answered_at, 'Asia/Shanghai'))          AS month,
    c.complaint_category                                            AS complaint_category,
    count()                                                         AS complaints,
    countIf(c.complaint_severity = 'escalated')                     AS escalated,
    round(count() / sum(count()) OVER (PARTITION BY month), 3)      AS share_of_month
FROM complaints AS c
INNER JOIN (SELECT hall_id, city FROM halls FINAL) AS h ON h.hall_id = c.hall_id
WHERE c.answered_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND c.answered_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND ({city:String} = '' OR h.city = {city:String})
GROUP BY month, complaint_category
ORDER BY month, complaints DESC, complaint_category
