-- One wait segment per synthetic visit (seg_no 0, from issue to first call), counted.
INSERT INTO wait_segments (visit_id, seg_no, hall_id, category, ticket_no, waited_from, called_at, wait_s, target_s,
                           within_target, inferred, counted, counter_id, staff_id, version)
SELECT visit_id, 0, hall_id, category, ticket_no, issued_at, called_at, wait_s, target_s, wait_s <= target_s, 0, 1,
       counter_id, concat(hall_id, '-S', counter_id), if(abandoned = 1, 3, 4)
FROM bench_visit_src
