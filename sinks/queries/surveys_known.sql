-- Which of these surveys are stored already (a repeat is dropped: the first one stays), and
-- when the stored surveys of these visits were answered (their category follows the visit).
-- Bound parameters: {halls:Array(String)}, {surveys:Array(String)}, {visits:Array(String)}.
SELECT event_id, visit_id, toUnixTimestamp64Milli(answered_at)
FROM surveys
WHERE hall_id IN {halls:Array(String)}
  AND (event_id IN {surveys:Array(String)} OR visit_id IN {visits:Array(String)})
