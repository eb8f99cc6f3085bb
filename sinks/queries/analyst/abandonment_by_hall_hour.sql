-- 各营业厅分时段弃号率
-- Abandonment (no-show) rate by hall and hour of day.
--
-- One row per hall and hour of the day (Asia/Shanghai) with enough tickets, highest rate
-- first: tickets issued in that hour and how many of them ended in no_show (a visit counts
-- in the hour of its `issued`). Hall totals (category = 'all') of the hourly roll-up.
-- Source: hour_metrics FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}       first business day included (Asia/Shanghai)
--   {to_day:Date}         first business day NOT included (Asia/Shanghai)
--   {city:String}         a city as in the catalogue, or '' for every city
--   {hall_id:String}      one hall, or '' for every hall
--   {min_issued:UInt32}   fewest tickets an hour needs to be listed
--   {limit:UInt32}        how many rows to return
SELECT
    m.hall_id                                                AS hall_id,
    h.name                                                   AS hall_name,
    h.city                                                   AS city,
    toHour(m.hour, 'Asia/Shanghai')                          AS hour_of_day,
    sum(m.issued)                                            AS issued,
    sum(m.abandoned)                                         AS abandoned,
    round(sum(m.abandoned) / nullIf(sum(m.issued), 0), 3)    AS abandonment_rate
FROM hour_metrics AS m FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = m.hall_id
WHERE m.category = 'all'
  AND m.hour >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND m.hour < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND ({city:String} = '' OR h.city = {city:String})
  AND ({hall_id:String} = '' OR m.hall_id = {hall_id:String})
GROUP BY m.hall_id, h.name, h.city, hour_of_day
HAVING issued >= greatest({min_issued:UInt32}, 1)
ORDER BY sum(m.abandoned) / sum(m.issued) DESC, issued DESC, hall_id, hour_of_day
LIMIT {limit:UInt32}
