-- Scratch table of the benchmark: one row per synthetic visit of the chunk being filled,
-- from which visit_*.sql, wait_segments.sql, transactions.sql and surveys_customer.sql
-- write the facts the sink would store. Emptied after each chunk; not read by the
-- assessment.
CREATE TABLE IF NOT EXISTS bench_visit_src
(
    h             UInt32,
    hall_id       String,
    visit_id      String,
    ticket_no     String,
    category      String,
    issued_at     DateTime64(3, 'UTC'),
    called_at     DateTime64(3, 'UTC'),
    started_at    DateTime64(3, 'UTC'),
    ended_at      DateTime64(3, 'UTC'),
    wait_s        Float64,
    target_s      Float64,
    abandoned     UInt8,
    handle_s      Float64,
    standard_s    Float64,
    fcr           UInt8,
    counter_id    String,
    surveyed      UInt8,
    score         UInt8,
    complaint     UInt8,
    escalated     UInt8,
    answered_at   DateTime64(3, 'UTC')
)
ENGINE = Memory
