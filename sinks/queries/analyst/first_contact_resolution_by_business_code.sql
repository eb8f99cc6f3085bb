-- 各业务编码一次解决率
-- First-contact resolution (一次解决率) by back-office business code.
--
-- One row per business code and service category with enough transactions, lowest
-- first-contact resolution first, with the outcome mix and mean handle time. A transaction
-- counts on the day it completed.
-- Source: transactions FINAL, halls FINAL.
--
-- Parameters:
--   {from_day:Date}             first business day included (Asia/Shanghai)
--   {to_day:Date}               first business day NOT included (Asia/Shanghai)
--   {city:String}               a city as in the catalogue, or '' for every city
--   {hall_id:String}            one hall, or '' for every hall
--   {min_transactions:UInt32}   fewest transactions a code needs to be listed
SELECT
    t.business_code                                       AS business_code,
    t.category                                            AS category,
    count()                                               AS transactions,
    sum(t.resolved_first_contact)                         AS resolved_first_contact,
    round(avg(t.resolved_first_contact), 3)               AS first_contact_rate,
    round(countIf(t.outcome = 'success') / count(), 3)    AS success_share,
    round(countIf(t.outcome = 'failed') / count(), 3)     AS failed_share,
    round(countIf(t.outcome = 'referred') / count(), 3)   AS referred_share,
    round(avg(t.handle_s) / 60, 1)                        AS mean_handle_min
FROM transactions AS t FINAL
INNER JOIN (SELECT hall_id, city FROM halls FINAL) AS h ON h.hall_id = t.hall_id
WHERE t.completed_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND t.completed_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
  AND ({city:String} = '' OR h.city = {city:String})
  AND ({hall_id:String} = '' OR t.hall_id = {hall_id:String})
GROUP BY t.business_code, t.category
HAVING transactions >= greatest({min_transactions:UInt32}, 1)
ORDER BY avg(t.resolved_first_contact) ASC, business_code, category
