-- Hall-days in [from_day, to_day) (business days, Asia/Shanghai) where day_metrics,
-- category 'all', does not hold what the facts hold: visits issued, wait segments called,
-- transactions, customer surveys, audits, complaints. The benchmark prints how many; its
-- test asserts none.
-- Bound parameters: {from_day:Date}, {to_day:Date}.
SELECT hall_id, day, f_issued, d_issued, f_called, d_called, f_tx, d_tx, f_csat, d_csat, f_audit, d_audit,
       f_complaints, d_complaints
FROM
(
    SELECT hall_id, day, sum(issued) AS f_issued, sum(called) AS f_called, sum(tx) AS f_tx, sum(csat) AS f_csat,
           sum(audit) AS f_audit, sum(complaints) AS f_complaints
    FROM
    (
        SELECT hall_id, toDate(issued_at, 'Asia/Shanghai') AS day, 1 AS issued, 0 AS called, 0 AS tx, 0 AS csat,
               0 AS audit, 0 AS complaints
        FROM visits FINAL
        UNION ALL
        SELECT hall_id, toDate(called_at, 'Asia/Shanghai'), 0, 1, 0, 0, 0, 0 FROM wait_segments FINAL WHERE counted = 1
        UNION ALL
        SELECT hall_id, toDate(completed_at, 'Asia/Shanghai'), 0, 0, 1, 0, 0, 0 FROM transactions FINAL
        UNION ALL
        SELECT hall_id, toDate(answered_at, 'Asia/Shanghai'), 0, 0, 0, kind = 'customer', kind != 'customer', has_complaint
        FROM surveys FINAL
    )
    WHERE day >= {from_day:Date} AND day < {to_day:Date}
    GROUP BY hall_id, day
) AS f
FULL OUTER JOIN
(
    SELECT toString(hall_id) AS hall_id, day, issued AS d_issued, called AS d_called, transactions AS d_tx,
           csat_n AS d_csat, audit_n AS d_audit, complaints AS d_complaints
    FROM day_metrics FINAL
    WHERE category = 'all' AND day >= {from_day:Date} AND day < {to_day:Date}
) AS d USING (hall_id, day)
WHERE f_issued != d_issued OR f_called != d_called OR f_tx != d_tx OR f_csat != d_csat OR f_audit != d_audit
   OR f_complaints != d_complaints
ORDER BY hall_id, day
SETTINGS join_use_nulls = 0
