-- The (hall, category, minute) gauge rows stored for some minutes, so that a category whose
-- queue emptied gets a zero row instead of keeping its last non-zero one.
-- Bound parameters: {halls:Array(String)}, {lo:DateTime}, {hi:DateTime} (UTC, half-open).
SELECT hall_id, category, toUnixTimestamp(minute) * 1000
FROM minute_gauges FINAL
WHERE hall_id IN {halls:Array(String)} AND minute >= {lo:DateTime} AND minute < {hi:DateTime}
  AND (queue_len > 0 OR active_counters > 0)
