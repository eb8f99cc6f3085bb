-- Every ticket event and transaction of the synthetic visits, as the sink stores them
-- (visit_events): issued, called, then started + tx (served) or no_show (abandoned).
-- None late. The day roll-up reads them for the silent minutes.
INSERT INTO visit_events (hall_id, visit_id, event_id, kind, occurred_at, started_at, category, to_category, ticket_no,
                          counter_id, staff_id, priority, channel, business_code, outcome, resolved_first_contact,
                          late, received_at)
SELECT hall_id, visit_id, concat(visit_id, '-', kind), kind,
       multiIf(kind = 'issued', issued_at, kind IN ('called', 'no_show'), called_at, kind = 'started', started_at, ended_at),
       if(kind = 'tx', started_at, NULL), category, '', ticket_no, if(kind = 'issued', '', counter_id),
       if(kind = 'issued', '', concat(hall_id, '-S', counter_id)), 'normal', 'kiosk',
       if(kind = 'tx', upper(category), ''), if(kind = 'tx', 'success', ''), if(kind = 'tx', fcr, 0), 0,
       multiIf(kind = 'issued', issued_at, kind IN ('called', 'no_show'), called_at, kind = 'started', started_at, ended_at)
           + toIntervalSecond(1)
FROM bench_visit_src
ARRAY JOIN if(abandoned = 1, ['issued', 'called', 'no_show'], ['issued', 'called', 'started', 'tx']) AS kind
