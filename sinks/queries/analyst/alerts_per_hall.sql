-- 各营业厅排队预警次数及累计持续时长
-- Queue early warnings per hall: how many, how severe, and how long they stayed open.
--
-- An alert is one alert_id: its `opened` event, perhaps an `escalated` one, and its
-- `closed` event. Alerts opened on a business day in the range (Asia/Shanghai) count, of
-- every rule: queue, complaint_spike and feed (数据中断, the hall sent no data);
-- open_minutes adds up opened -> closed for the closed ones; still_open are not closed yet.
-- Source: alerts FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
SELECT
    a.hall_id                                                   AS hall_id,
    h.name                                                      AS hall_name,
    h.city                                                      AS city,
    count()                                                     AS alerts,
    countIf(a.rule = 'queue')                                   AS queue_alerts,
    countIf(a.rule = 'complaint_spike')                         AS complaint_spike_alerts,
    countIf(a.rule = 'feed')                                    AS feed_alerts,
    countIf(a.reached_critical = 1)                             AS reached_critical,
    countIf(a.closed IS NOT NULL)                            AS closed,
    countIf(a.closed IS NULL)                                AS still_open,
    round(sum(dateDiff('second', a.opened, a.closed)) / 60, 1) AS open_minutes,
    round(avg(dateDiff('second', a.opened, a.closed)) / 60, 1) AS mean_open_minutes,
    round(max(dateDiff('second', a.opened, a.closed)) / 60, 1) AS longest_open_minutes
FROM
(
    SELECT
        alert_id,
        any(hall_id)                                                         AS hall_id,
        any(rule)                                                            AS rule,
        min(opened_at)                                                       AS opened,
        if(countIf(action = 'closed') > 0, maxIf(occurred_at, action = 'closed'), NULL) AS closed,
        max(level = 'critical')                                              AS reached_critical
    FROM alerts FINAL
    WHERE opened_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
      AND opened_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
    GROUP BY alert_id
) AS a
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = a.hall_id
WHERE {city:String} = '' OR h.city = {city:String}
GROUP BY a.hall_id, h.name, h.city
ORDER BY alerts DESC, sum(dateDiff('second', a.opened, a.closed)) DESC, hall_id
