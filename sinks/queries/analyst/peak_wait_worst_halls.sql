-- 高峰时段等候时间最长的营业厅（10:00–12:00、14:00–16:00，北京时间）
-- Worst halls by waiting time in the peak hours (10:00-12:00 and 14:00-16:00, Asia/Shanghai).
--
-- One row per hall, longest mean wait first. A wait segment counts on the day and in the
-- hour of its first call; "within target" is judged against the segment's category target.
-- Source: wait_segments FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue (e.g. 南京), or '' for every city
--   {limit:UInt32}     how many halls to return
SELECT
    w.hall_id                                    AS hall_id,
    h.name                                       AS hall_name,
    h.city                                       AS city,
    count()                                      AS waits,
    round(avg(w.wait_s) / 60, 1)                 AS mean_wait_min,
    round(quantileExact(0.5)(w.wait_s) / 60, 1)  AS p50_wait_min,
    round(quantileExact(0.9)(w.wait_s) / 60, 1)  AS p90_wait_min,
    round(max(w.wait_s) / 60, 1)                 AS max_wait_min,
    round(avg(w.within_target), 3)               AS within_target_share
FROM wait_segments AS w FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = w.hall_id
WHERE w.called_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND w.called_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND toHour(w.called_at, 'Asia/Shanghai') IN (10, 11, 14, 15)
  AND ({city:String} = '' OR h.city = {city:String})
GROUP BY w.hall_id, h.name, h.city
ORDER BY avg(w.wait_s) DESC, hall_id
LIMIT {limit:UInt32}
