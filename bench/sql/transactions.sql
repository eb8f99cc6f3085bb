-- One transaction per served synthetic visit, completed after its handle time.
INSERT INTO transactions (event_id, hall_id, visit_id, ticket_no, counter_id, staff_id, category, business_code,
                          started_at, completed_at, handle_s, standard_handle_s, outcome, resolved_first_contact)
SELECT concat(visit_id, '-tx'), hall_id, visit_id, ticket_no, counter_id, concat(hall_id, '-S', counter_id), category,
       upper(category), started_at, ended_at, handle_s, standard_s, 'success', fcr
FROM bench_visit_src
WHERE abandoned = 0
