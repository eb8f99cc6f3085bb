-- 各城市、各业务类别的等候达标率
-- Share of waits called within target, by city and service category.
--
-- One row per city and category, plus category = 'all' for the city's halls as a whole
-- (listed first in each city); then the categories, lowest share first. A wait counts on
-- the day of its first call and is judged against its own category's target.
-- Source: day_metrics FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {city:String}      a city as in the catalogue, or '' for every city
SELECT
    h.city                                                      AS city,
    d.category                                                  AS category,
    uniqExact(d.hall_id)                                        AS halls,
    sum(d.called)                                               AS waits,
    sum(d.within_target)                                        AS within_target,
    round(sum(d.within_target) / nullIf(sum(d.called), 0), 3)   AS within_target_share,
    round(sum(d.wait_sum_s) / nullIf(sum(d.called), 0) / 60, 1) AS mean_wait_min
FROM day_metrics AS d FINAL
INNER JOIN (SELECT hall_id, city FROM halls FINAL) AS h ON h.hall_id = d.hall_id
WHERE d.day >= {from_day:Date} AND d.day < {to_day:Date}
  AND ({city:String} = '' OR h.city = {city:String})
GROUP BY h.city, d.category
HAVING waits > 0
ORDER BY city, category != 'all', sum(d.within_target) / sum(d.called), category
