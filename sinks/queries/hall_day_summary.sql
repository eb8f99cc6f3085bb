-- One line per hall for a business day (Asia/Shanghai): what the demo prints, and a quick
-- look for operators. Bound parameter: {day:Date}.
SELECT
    h.city                                               AS city,
    d.hall_id                                            AS hall,
    h.name                                               AS name,
    d.issued                                             AS visits,
    d.visits_served                                      AS served,
    round(d.wait_sum_s / nullIf(d.called, 0) / 60, 1)    AS mean_wait_min,
    round(d.within_target / nullIf(d.called, 0), 3)      AS within_target,
    round(d.wait_max_s / 60, 1)                          AS max_wait_min,
    round(d.abandoned / nullIf(d.issued, 0), 3)          AS abandonment,
    round(d.csat_sum / nullIf(d.csat_n, 0), 2)           AS csat,
    d.complaints                                         AS complaints,
    d.queue_len_max                                      AS peak_queue
FROM day_metrics AS d FINAL
INNER JOIN (SELECT hall_id, name, city FROM halls FINAL) AS h ON h.hall_id = d.hall_id
WHERE d.category = 'all' AND d.day = {day:Date}
ORDER BY mean_wait_min DESC
