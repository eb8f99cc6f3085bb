-- One published version of a period, with its scheme and results (first row wins).
-- Bound parameters: {period:String}, {version:UInt32}.
SELECT version, version_id, published_at, published_by, reason, appeal_ids, appeals, forced, scheme, results
FROM assessment_versions
WHERE period = {period:String} AND version = {version:UInt32}
ORDER BY published_at, version_id
LIMIT 1
