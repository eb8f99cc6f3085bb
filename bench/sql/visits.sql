-- The visits table as the fact writer derives it (sinks/facts.py _visit_rows) for the
-- synthetic visits: one wait segment each, served with one transaction or abandoned at
-- the first call; none expired, no inferred call, version = its number of events.
INSERT INTO visits (visit_id, hall_id, category, ticket_no, priority, channel, issued_at, first_called_at, ended_at,
                    status, served, abandoned, expired, segments, total_wait_s, transactions, inferred_calls,
                    expires_at, version)
SELECT visit_id, hall_id, category, ticket_no, 'normal', 'kiosk', issued_at, called_at, ended_at,
       if(abandoned = 1, 'abandoned', 'served'), 1 - abandoned, abandoned, 0, 1, wait_s, 1 - abandoned, 0,
       NULL, if(abandoned = 1, 3, 4)
FROM bench_visit_src
