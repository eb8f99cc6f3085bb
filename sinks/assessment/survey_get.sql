-- One survey, to check an appeal against it. Bound parameters: {event_id:String}.
SELECT event_id, hall_id, toString(kind) AS kind, answered_at, score, has_complaint
FROM surveys FINAL
WHERE event_id = {event_id:String}
LIMIT 1
