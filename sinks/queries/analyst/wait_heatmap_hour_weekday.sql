-- 平均等候时间热力图：一天中的小时 × 星期几
-- Heatmap of mean waiting time: hour of day (rows) x weekday (columns), Asia/Shanghai.
--
-- One row per hour of the day; columns mon..sun hold the mean wait in minutes of the waits
-- called in that hour on that weekday (NULL where nobody was called). Hall totals
-- (category = 'all') of the hourly roll-up; a wait counts in the hour of its first call.
-- Source: hour_metrics FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
--   {hall_id:String}   one hall (e.g. JS-NJ-0001), or '' for every hall
SELECT
    toHour(m.hour, 'Asia/Shanghai')                                             AS hour_of_day,
    sum(m.called)                                                               AS waits,
    round(sumIf(m.wait_sum_s, m.wd = 1) / nullIf(sumIf(m.called, m.wd = 1), 0) / 60, 1) AS mon,
    round(sumIf(m.wait_sum_s, m.wd = 2) / nullIf(sumIf(m.called, m.wd = 2), 0) / 60, 1) AS tue,
    round(sumIf(m.wait_sum_s, m.wd = 3) / nullIf(sumIf(m.called, m.wd = 3), 0) / 60, 1) AS wed,
    round(sumIf(m.wait_sum_s, m.wd = 4) / nullIf(sumIf(m.called, m.wd = 4), 0) / 60, 1) AS thu,
    round(sumIf(m.wait_sum_s, m.wd = 5) / nullIf(sumIf(m.called, m.wd = 5), 0) / 60, 1) AS fri,
    round(sumIf(m.wait_sum_s, m.wd = 6) / nullIf(sumIf(m.called, m.wd = 6), 0) / 60, 1) AS sat,
    round(sumIf(m.wait_sum_s, m.wd = 7) / nullIf(sumIf(m.called, m.wd = 7), 0) / 60, 1) AS sun
FROM
(
    SELECT hall_id, hour, called, wait_sum_s, toDayOfWeek(hour, 0, 'Asia/Shanghai') AS wd
    FROM hour_metrics FINAL
    WHERE category = 'all'
      AND hour >= toDateTime({from_day:Date}, 'Asia/Shanghai')
      AND hour < toDateTime({to_day:Date}, 'Asia/Shanghai')
      AND ({hall_id:String} = '' OR hall_id = {hall_id:String})
) AS m
INNER JOIN (SELECT hall_id, city FROM halls FINAL) AS h ON h.hall_id = m.hall_id
WHERE {city:String} = '' OR h.city = {city:String}
GROUP BY hour_of_day
HAVING waits > 0
ORDER BY hour_of_day
