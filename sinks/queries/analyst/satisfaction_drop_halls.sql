-- 满意度环比下降最多的营业厅
-- Halls whose customer satisfaction fell most since the previous month.
--
-- One row per hall with enough customer surveys in both months, largest fall first: mean
-- customer score (1-10; the assessment uses it x10) and share satisfied (score >= 9) in
-- the month containing {month} and in the calendar month before it (Asia/Shanghai). A
-- survey counts on the day it was answered. Hall totals (category = 'all') of the daily roll-up.
-- Source: day_metrics FINAL, halls FINAL.
--
-- Parameters:
--   {month:Date}          any day of the month to assess, e.g. 2026-11-01
--   {city:String}         a city as in the catalogue, or '' for every city
--   {min_surveys:UInt32}  fewest customer surveys a hall needs in each month (the assessment uses 30)
--   {limit:UInt32}        how many halls to return
SELECT
    s.hall_id                                                  AS hall_id,
    h.name                                                     AS hall_name,
    h.city                                                     AS city,
    s.prev_n                                                   AS prev_surveys,
    round(s.prev_sum / s.prev_n, 2)                            AS prev_mean_score,
    round(s.prev_satisfied / s.prev_n, 3)                      AS prev_satisfied_share,
    s.cur_n                                                    AS surveys,
    round(s.cur_sum / s.cur_n, 2)                              AS mean_score,
    round(s.cur_satisfied / s.cur_n, 3)                        AS satisfied_share,
    round(s.cur_sum / s.cur_n - s.prev_sum / s.prev_n, 2)      AS change
FROM
(
    SELECT
        hall_id,
        sumIf(csat_n, day < toStartOfMonth({month:Date}))          AS prev_n,
        sumIf(csat_sum, day < toStartOfMonth({month:Date}))        AS prev_sum,
        sumIf(csat_satisfied, day < toStartOfMonth({month:Date}))  AS prev_satisfied,
        sumIf(csat_n, day >= toStartOfMonth({month:Date}))         AS cur_n,
        sumIf(csat_sum, day >= toStartOfMonth({month:Date}))       AS cur_sum,
        sumIf(csat_satisfied, day >= toStartOfMonth({month:Date})) AS cur_satisfied
    FROM day_metrics FINAL
    WHERE category = 'all'
      AND day >= toStartOfMonth({month:Date}) - INTERVAL 1 MONTH
      AND day < toStartOfMonth({month:Date}) + INTERVAL 1 MONTH
    GROUP BY hall_id
) AS s
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = s.hall_id
WHERE s.prev_n >= greatest({min_surveys:UInt32}, 1)
  AND s.cur_n >= greatest({min_surveys:UInt32}, 1)
  AND ({city:String} = '' OR h.city = {city:String})
ORDER BY s.cur_sum / s.cur_n - s.prev_sum / s.prev_n ASC, hall_id
LIMIT {limit:UInt32}
