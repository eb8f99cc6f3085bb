-- 办理时长最长的营业员（相对业务类别标准时长）
-- Clerks with the longest handle times, relative to each category's standard handle time.
--
-- One row per clerk (staff_id) and hall, slowest first by the mean over their transactions
-- of handle time / the category's standard (1.00 = exactly the standard; the assessment's
-- handle-time indicator). A transaction counts on the day it completed.
-- Source: transactions FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}             first business day included (Asia/Shanghai)
--   {to_day:Date}               first business day NOT included (Asia/Shanghai)
--   {city:String}               a city as in the catalogue, or '' for every city
--   {hall_id:String}            one hall, or '' for every hall
--   {min_transactions:UInt32}   fewest transactions a clerk needs to be listed
--   {limit:UInt32}              how many clerks to return
SELECT
    t.staff_id                                            AS staff_id,
    t.hall_id                                             AS hall_id,
    h.name                                                AS hall_name,
    h.city                                                AS city,
    count()                                               AS transactions,
    round(avg(t.handle_s) / 60, 1)                        AS mean_handle_min,
    round(avg(t.handle_s / t.standard_handle_s), 2)       AS handle_vs_standard,
    round(countIf(t.handle_s > 1.5 * t.standard_handle_s) / count(), 3) AS over_150pct_share,
    round(avg(t.resolved_first_contact), 3)               AS first_contact_share
FROM transactions AS t FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = t.hall_id
WHERE t.completed_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND t.completed_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND ({city:String} = '' OR h.city = {city:String})
  AND ({hall_id:String} = '' OR t.hall_id = {hall_id:String})
GROUP BY t.staff_id, t.hall_id, h.name, h.city
HAVING transactions >= {min_transactions:UInt32}
ORDER BY avg(t.handle_s / t.standard_handle_s) DESC, staff_id
LIMIT {limit:UInt32}
