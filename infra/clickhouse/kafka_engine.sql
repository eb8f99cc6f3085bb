-- The ClickHouse Kafka table engine with materialized views: the alternative to the sink
-- for the raw fact tables on a ClickHouse server (docs/clickhouse-cluster.md). Run it in
-- the hallpulse database after the migrations (sinks/migrations/*.sql): the views write
-- into those tables. tests/test_kafka_engine_ddl.py checks, with Null tables in place of
-- the Kafka ones, that the views store the same rows as the sink's FactWriter.
--
-- hall.facts carries one message per hall and event: a JSON array of facts
-- (streams/engine.py Outcome.facts): {"k": "visit", "h", "v", "s": [steps]},
-- {"k": "survey", "r": record}, {"k": "gauges", "h", "rows": [[hall, category, minute_ms,
-- queue_len, longest_wait_s, active_counters, est_wait_s]]}, {"k": "day", "h", "d"}.
-- hall.alerts carries one AlertEvent (schemas/events.py) per message. Both are written in
-- the workers' transactions: the Kafka engine's librdkafka reads read_committed by default
-- (isolation.level), which must stay so.

CREATE TABLE facts_queue (raw String)
ENGINE = Kafka
SETTINGS kafka_broker_list = 'kafka1:9092,kafka2:9092,kafka3:9092',
         kafka_topic_list = 'hall.facts',
         kafka_group_name = 'hallpulse-clickhouse-facts',
         kafka_format = 'JSONAsString',
         kafka_num_consumers = 4;

CREATE TABLE alerts_queue (raw String)
ENGINE = Kafka
SETTINGS kafka_broker_list = 'kafka1:9092,kafka2:9092,kafka3:9092',
         kafka_topic_list = 'hall.alerts',
         kafka_group_name = 'hallpulse-clickhouse-alerts',
         kafka_format = 'JSONAsString';

CREATE MATERIALIZED VIEW facts_visit_events_mv TO visit_events AS
SELECT JSONExtractString(f, 'h')                                      AS hall_id,
       JSONExtractString(f, 'v')                                      AS visit_id,
       JSONExtractString(s, 'id')                                     AS event_id,
       JSONExtractString(s, 'k')                                      AS kind,
       fromUnixTimestamp64Milli(JSONExtractInt(s, 't'), 'UTC')        AS occurred_at,
       if(JSONHas(s, 'st'), fromUnixTimestamp64Milli(JSONExtractInt(s, 'st'), 'UTC'), NULL) AS started_at,
       JSONExtractString(s, 'c')                                      AS category,
       JSONExtractString(s, 'to')                                     AS to_category,
       JSONExtractString(s, 'tk')                                     AS ticket_no,
       JSONExtractString(s, 'ctr')                                    AS counter_id,
       JSONExtractString(s, 'stf')                                    AS staff_id,
       JSONExtractString(s, 'pri')                                    AS priority,
       JSONExtractString(s, 'ch')                                     AS channel,
       JSONExtractString(s, 'bc')                                     AS business_code,
       JSONExtractString(s, 'out')                                    AS outcome,
       toUInt8(JSONExtractBool(s, 'fcr'))                             AS resolved_first_contact,
       toUInt8(JSONExtractInt(s, 'lt') != 0)                          AS late,
       now64(3, 'UTC')                                                AS received_at
FROM facts_queue
ARRAY JOIN JSONExtractArrayRaw(raw) AS f
ARRAY JOIN JSONExtractArrayRaw(f, 's') AS s
WHERE JSONExtractString(f, 'k') = 'visit';

CREATE MATERIALIZED VIEW facts_transactions_mv TO transactions AS
SELECT e.event_id, e.hall_id, e.visit_id, e.ticket_no, e.counter_id, e.staff_id, e.category, e.business_code,
       e.started_at, e.completed_at, greatest(0., dateDiff('millisecond', e.started_at, e.completed_at) / 1000.) AS handle_s,
       t.standard_handle_s, e.outcome, e.resolved_first_contact
FROM
(
    SELECT JSONExtractString(f, 'h') AS hall_id, JSONExtractString(f, 'v') AS visit_id,
           JSONExtractString(s, 'id') AS event_id, JSONExtractString(s, 'tk') AS ticket_no,
           JSONExtractString(s, 'ctr') AS counter_id, JSONExtractString(s, 'stf') AS staff_id,
           JSONExtractString(s, 'c') AS category, JSONExtractString(s, 'bc') AS business_code,
           fromUnixTimestamp64Milli(JSONExtractInt(s, 'st'), 'UTC') AS started_at,
           fromUnixTimestamp64Milli(JSONExtractInt(s, 't'), 'UTC') AS completed_at,
           JSONExtractString(s, 'out') AS outcome, toUInt8(JSONExtractBool(s, 'fcr')) AS resolved_first_contact
    FROM facts_queue
    ARRAY JOIN JSONExtractArrayRaw(raw) AS f
    ARRAY JOIN JSONExtractArrayRaw(f, 's') AS s
    WHERE JSONExtractString(f, 'k') = 'visit' AND JSONExtractString(s, 'k') = 'tx'
) AS e
LEFT JOIN (SELECT hall_id, category, argMax(standard_handle_s, loaded_at) AS standard_handle_s
           FROM hall_category_targets GROUP BY hall_id, category) AS t
       ON t.hall_id = e.hall_id AND t.category = e.category;

CREATE MATERIALIZED VIEW facts_surveys_mv TO surveys AS
SELECT JSONExtractString(r, 'id') AS event_id, JSONExtractString(r, 'h') AS hall_id,
       JSONExtractString(r, 'kind') AS kind, JSONExtractString(r, 'vid') AS visit_id,
       JSONExtractString(r, 'stf') AS staff_id, '' AS category, JSONExtractString(r, 'ch') AS channel,
       fromUnixTimestamp64Milli(JSONExtractInt(r, 't'), 'UTC') AS answered_at,
       toUInt8(JSONExtractUInt(r, 'score')) AS score,
       JSONExtract(r, 'dims', 'Map(String, UInt8)') AS dimensions,
       toUInt8(JSONExtractString(r, 'cmp') != '') AS has_complaint,
       JSONExtractString(r, 'cmp') AS complaint_category, JSONExtractString(r, 'sev') AS complaint_severity,
       JSONExtractString(r, 'ctext') AS complaint_text, JSONExtractString(r, 'cm') AS comment,
       toUInt8(JSONExtractInt(r, 'lt') != 0) AS late
FROM facts_queue
ARRAY JOIN JSONExtractArrayRaw(raw) AS f
ARRAY JOIN [JSONExtractRaw(f, 'r')] AS r
WHERE JSONExtractString(f, 'k') = 'survey';

CREATE MATERIALIZED VIEW facts_minute_gauges_mv TO minute_gauges AS
SELECT JSONExtractString(g, 1) AS hall_id, JSONExtractString(g, 2) AS category,
       toDateTime(intDiv(JSONExtractInt(g, 3), 1000), 'UTC') AS minute,
       toUInt32(JSONExtractUInt(g, 4)) AS queue_len, JSONExtractFloat(g, 5) AS longest_wait_s,
       toUInt16(JSONExtractUInt(g, 6)) AS active_counters, JSONExtractFloat(g, 7) AS est_wait_s,
       toUInt64(toUnixTimestamp64Micro(now64(6))) AS version
FROM facts_queue
ARRAY JOIN JSONExtractArrayRaw(raw) AS f
ARRAY JOIN JSONExtractArrayRaw(f, 'rows') AS g
WHERE JSONExtractString(f, 'k') = 'gauges';

CREATE MATERIALIZED VIEW alerts_mv TO alerts AS
SELECT JSONExtractString(raw, 'alert_id') AS alert_id, JSONExtractString(raw, 'action') AS action,
       JSONExtractString(raw, 'hall_id') AS hall_id, JSONExtractString(raw, 'category') AS category,
       JSONExtractString(raw, 'rule') AS rule, JSONExtractString(raw, 'level') AS level,
       parseDateTime64BestEffort(JSONExtractString(raw, 'occurred_at'), 3, 'UTC') AS occurred_at,
       parseDateTime64BestEffort(JSONExtractString(raw, 'opened_at'), 3, 'UTC') AS opened_at,
       JSONExtract(raw, 'triggers', 'Array(String)') AS triggers,
       JSONExtract(raw, 'figures', 'Map(String, Float64)') AS figures,
       JSONExtractString(raw, 'suggested_action') AS suggested_action
FROM alerts_queue;
