-- 神秘顾客暗访、明查得分与客户满意度对比
-- Mystery-shopper and inspection scores per hall next to customer satisfaction.
--
-- One row per hall with at least one survey of any kind, lowest audit score first:
-- mystery-shopper and inspection means (0-100), customer satisfaction as mean score x 10
-- (the assessment's scale) and the gap between the two. A survey counts on the day it was
-- answered. NULL where a hall had no survey of that kind.
-- Source: surveys FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
SELECT
    s.hall_id                                                                AS hall_id,
    h.name                                                                   AS hall_name,
    h.city                                                                   AS city,
    countIf(s.kind = 'mystery_shopper')                                      AS mystery_shopper_n,
    round(avgOrNullIf(s.score, s.kind = 'mystery_shopper'), 1)               AS mystery_shopper_mean,
    countIf(s.kind = 'inspection')                                           AS inspection_n,
    round(avgOrNullIf(s.score, s.kind = 'inspection'), 1)                    AS inspection_mean,
    round(avgOrNullIf(s.score, s.kind IN ('mystery_shopper', 'inspection')), 1) AS audit_mean,
    countIf(s.kind = 'customer')                                             AS customer_surveys,
    round(avgOrNullIf(s.score, s.kind = 'customer') * 10, 1)                 AS satisfaction_x10,
    round(avgOrNullIf(s.score, s.kind IN ('mystery_shopper', 'inspection'))
          - avgOrNullIf(s.score, s.kind = 'customer') * 10, 1)               AS audit_minus_satisfaction
FROM surveys AS s FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = s.hall_id
WHERE s.answered_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND s.answered_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND ({city:String} = '' OR h.city = {city:String})
GROUP BY s.hall_id, h.name, h.city
ORDER BY avgOrNullIf(s.score, s.kind IN ('mystery_shopper', 'inspection')) ASC NULLS LAST, hall_id
