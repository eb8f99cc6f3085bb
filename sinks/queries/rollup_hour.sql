-- Recompute hour_metrics for the given (hall, hour) pairs from their minute rows, which
-- rollup_minute.sql has just recomputed from the facts (the fact writer runs it first):
-- counts and sums add up, the longest wait and the gauges are the maxima of the minutes'.
-- (Summing the hour's facts again cost four times as much.) A stored row with no minute
-- rows left is rewritten with zeros. Columns are named through the alias m: an aggregate
-- named as the column it reads is refused otherwise.
-- Bound parameters: as rollup_minute.sql.
INSERT INTO hour_metrics
SELECT m.hall_id AS hall_id, m.category AS category, toStartOfHour(m.minute) AS hour, sum(m.issued) AS issued,
       sum(m.visits_served) AS visits_served, sum(m.abandoned) AS abandoned, sum(m.transfers) AS transfers,
       sum(m.called) AS called, sum(m.within_target) AS within_target, sum(m.wait_sum_s) AS wait_sum_s,
       max(m.wait_max_s) AS wait_max_s, sum(m.transactions) AS transactions, sum(m.handle_sum_s) AS handle_sum_s,
       sum(m.handle_ratio_sum) AS handle_ratio_sum, sum(m.first_contact) AS first_contact, sum(m.csat_n) AS csat_n,
       sum(m.csat_sum) AS csat_sum, sum(m.csat_satisfied) AS csat_satisfied, sum(m.audit_n) AS audit_n,
       sum(m.audit_sum) AS audit_sum, sum(m.complaints) AS complaints, sum(m.complaints_escalated) AS complaints_escalated,
       max(m.queue_len) AS queue_len_max, max(m.longest_wait_s) AS longest_wait_max_s,
       max(m.est_wait_s) AS est_wait_max_s, {version:UInt64} AS version
FROM minute_metrics AS m FINAL
WHERE m.hall_id IN {halls:Array(String)} AND m.minute >= {lo:DateTime64(3)} AND m.minute < {hi:DateTime64(3)}
  AND (m.hall_id, toStartOfHour(m.minute)) IN {keys:Array(Tuple(String, DateTime))}
GROUP BY hall_id, category, hour
UNION ALL  -- the keys' stored rows, zeroed one version below: a group whose minutes moved away
SELECT hall_id, category, hour, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {version:UInt64} - 1
FROM hour_metrics FINAL
WHERE hall_id IN {halls:Array(String)} AND (hall_id, hour) IN {keys:Array(Tuple(String, DateTime))}
