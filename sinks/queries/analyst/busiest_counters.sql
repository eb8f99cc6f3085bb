-- 最繁忙的窗口（台席）
-- Busiest counters: most transactions served, with hours spent handling them.
--
-- One row per hall and counter, most transactions first. A transaction counts on the day
-- it completed; handle_hours adds up completed - started.
-- Source: transactions FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
--   {hall_id:String}   one hall, or '' for every hall
--   {limit:UInt32}     how many counters to return
SELECT
    t.hall_id                                                AS hall_id,
    h.name                                                   AS hall_name,
    h.city                                                   AS city,
    t.counter_id                                             AS counter_id,
    count()                                                  AS transactions,
    uniqExact(toDate(t.completed_at, 'Asia/Shanghai'))       AS days_active,
    round(count() / uniqExact(toDate(t.completed_at, 'Asia/Shanghai')), 1) AS transactions_per_day,
    round(sum(t.handle_s) / 3600, 1)                         AS handle_hours,
    round(avg(t.handle_s) / 60, 1)                           AS mean_handle_min,
    uniqExact(t.staff_id)                                    AS clerks
FROM transactions AS t FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = t.hall_id
WHERE t.completed_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND t.completed_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND ({city:String} = '' OR h.city = {city:String})
  AND ({hall_id:String} = '' OR t.hall_id = {hall_id:String})
GROUP BY t.hall_id, h.name, h.city, t.counter_id
ORDER BY transactions DESC, sum(t.handle_s) DESC, hall_id, counter_id
LIMIT {limit:UInt32}
