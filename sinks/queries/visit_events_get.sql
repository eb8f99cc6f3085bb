-- The stored events of some visits: the fact writer re-derives each visit from all of them.
-- Bound parameters: {halls:Array(String)}, {visits:Array(String)}.
SELECT visit_id, event_id, kind, toUnixTimestamp64Milli(occurred_at),
       if(started_at IS NULL, NULL, toUnixTimestamp64Milli(assumeNotNull(started_at))),
       category, to_category, ticket_no, counter_id, staff_id, priority, channel, business_code, outcome,
       resolved_first_contact, late
FROM visit_events
WHERE hall_id IN {halls:Array(String)} AND visit_id IN {visits:Array(String)}
