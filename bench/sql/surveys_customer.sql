-- The customer surveys of the synthetic visits (surveyed = 1), with their complaints.
-- category '' as the fact writer stores it: the roll-ups take the visit's.
INSERT INTO surveys (event_id, hall_id, kind, visit_id, staff_id, category, channel, answered_at, score, dimensions,
                     has_complaint, complaint_category, complaint_severity, complaint_text, comment, late)
SELECT concat('sv-', visit_id), hall_id, 'customer', visit_id, concat(hall_id, '-S', counter_id), '', 'sms', answered_at,
       score, map(), complaint, if(complaint = 1, if(wait_s > target_s, 'wait_time', 'attitude'), ''),
       if(complaint = 1, if(escalated = 1, 'escalated', 'normal'), ''), '', '', 0
FROM bench_visit_src
WHERE surveyed = 1
