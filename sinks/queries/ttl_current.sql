-- The TTL in months each table of this database has now (tables without a TTL are absent).
SELECT name, toUInt32OrZero(extract(create_table_query, 'toIntervalMonth\\((\\d+)\\)')) AS months
FROM system.tables
WHERE database = currentDatabase() AND create_table_query LIKE '%TTL%'
