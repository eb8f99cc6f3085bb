-- The published versions of a period, without their (large) results.
-- Several rows for one version only if two publishers raced: the first row wins.
-- Bound parameters: {period:String}.
SELECT version, version_id, published_at, published_by, reason, appeal_ids, appeals, forced
FROM assessment_versions
WHERE period = {period:String}
ORDER BY version, published_at, version_id
