-- Retention of facts and aggregates: [store].ttl_months, applied at start when it differs
-- from the tables' TTL (see sinks/migrate.py apply_ttl). One statement per table;
-- {ttl_months} is an integer from configuration (DDL cannot bind parameters).
ALTER TABLE visits MODIFY TTL toDateTime(issued_at) + INTERVAL {ttl_months} MONTH;
ALTER TABLE wait_segments MODIFY TTL toDateTime(called_at) + INTERVAL {ttl_months} MONTH;
ALTER TABLE transactions MODIFY TTL toDateTime(completed_at) + INTERVAL {ttl_months} MONTH;
ALTER TABLE surveys MODIFY TTL toDateTime(answered_at) + INTERVAL {ttl_months} MONTH;
ALTER TABLE alerts MODIFY TTL toDateTime(occurred_at) + INTERVAL {ttl_months} MONTH;
ALTER TABLE minute_metrics MODIFY TTL minute + INTERVAL {ttl_months} MONTH;
ALTER TABLE hour_metrics MODIFY TTL hour + INTERVAL {ttl_months} MONTH;
ALTER TABLE day_metrics MODIFY TTL day + INTERVAL {ttl_months} MONTH;
ALTER TABLE visit_events MODIFY TTL toDateTime(occurred_at) + INTERVAL {ttl_months} MONTH;
ALTER TABLE minute_gauges MODIFY TTL minute + INTERVAL {ttl_months} MONTH;
