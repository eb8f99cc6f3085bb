-- Synthetic visits of halls [h_from, h_from + halls) over days [first, first + days), into
-- bench_visit_src. Deterministic: every random figure is a cityHash64 of (hall index,
-- day, visit number), so a hall-day gets the same visits whatever the chunking.
--
-- Per hall-day: 50 / 36 / 30 / 24 visits (flagship / large / medium / small, hall index
-- % 4, as tests/seeding.py VISITS_PER_DAY), x1.25 on weekends, x0.9–1.1 at random; issued
-- during the open minutes from {opens} Shanghai, half of them in the 10:00–12:00 and
-- 14:00–16:00 rushes. Category by the seeding's weights. A per-hall quality q (0 good …
-- 98 poor; x²/100 for x uniform in 0..99, so most halls are good) spreads the halls over
-- the grades: mean wait 1.5 + q/10 min (exponential, x1.5 in the rushes) against a 10-min
-- target (VIP 5), abandonment 1 % + q/25 % (more after long waits, only at the first
-- call), handle time 0.8–1.1 + q/400 of the category standard (config/halls.toml
-- defaults), first-contact resolution 90 %. One customer survey for 20 % of the served
-- visits, score about 9.4 − q/40 (−1.5 when the wait was over target, ±~1 noise), a
-- complaint with half of the scores ≤ 4 and 5 % of the 5–6s, a quarter of them escalated.
-- Bound parameters: {h_from:UInt64}, {halls:UInt64}, {first:Date}, {days:UInt64},
-- {opens:String} ('HH:MM'), {open_minutes:UInt64}.
INSERT INTO bench_visit_src
SELECT h, hall_id, visit_id, ticket_no, category, issued_at, called_at, started_at,
       if(abandoned = 1, called_at + toIntervalSecond(60), started_at + toIntervalMillisecond(toInt64(handle_s * 1000))),
       wait_s, target_s, abandoned, handle_s, standard_s, fcr, counter_id,
       abandoned = 0 AND u5 < 0.2 AS surveyed, score,
       (score <= 4 AND u9 < 0.5) OR (score BETWEEN 5 AND 6 AND u9 < 0.05) AS complaint, u10 < 0.25 AS escalated,
       started_at + toIntervalMillisecond(toInt64(handle_s * 1000)) + toIntervalSecond(300 + r % 3600) AS answered_at
FROM
(
    SELECT *,
           toUInt8(least(10, greatest(1, round(9.4 - q / 40 - if(wait_s > target_s, 1.5, 0)
                                               + (u6 + u7 + u8 - 1.5) * 1.6)))) AS score,
           issued_at + toIntervalMillisecond(toInt64(wait_s * 1000)) AS called_at,
           called_at + toIntervalSecond(30) AS started_at,
           u2 < 0.01 + q / 2500 + multiIf(wait_s > 1200, 0.08, wait_s > 600, 0.03, 0) AS abandoned,
           standard_s * (0.8 + q / 400 + 0.3 * u3) AS handle_s,
           u4 < 0.9 AS fcr
    FROM
    (
        SELECT h, hall_id, q, day, k, r, u1, u2, u3, u4, u5, u6, u7, u8, u9, u10,
               concat(hall_id, '-', formatDateTime(day, '%Y%m%d'), '-', toString(k)) AS visit_id,
               multiIf(c < 20, 'consult', c < 28, 'open_account', c < 48, 'plan_change', c < 66, 'payment',
                       c < 76, 'terminal', c < 86, 'broadband', c < 92, 'vip', 'other') AS category,
               concat(transform(category, ['consult', 'open_account', 'plan_change', 'payment', 'terminal', 'broadband', 'vip'],
                                ['A', 'B', 'C', 'D', 'E', 'F', 'V'], 'G'), leftPad(toString(k + 1), 3, '0')) AS ticket_no,
               if(category = 'vip', 300., 600.) AS target_s,
               transform(category, ['consult', 'open_account', 'plan_change', 'payment', 'terminal', 'broadband', 'vip'],
                         [240., 900., 480., 180., 720., 600., 600.], 360.) AS standard_s,
               multiIf(r % 4 < 2, bitShiftRight(r, 2) % ({open_minutes:UInt64} - 20),
                       r % 4 = 2, 90 + bitShiftRight(r, 2) % 120, 330 + bitShiftRight(r, 2) % 120) AS om,
               toTimeZone(toDateTime64(concat(toString(day), ' ', {opens:String}, ':00'), 3, 'Asia/Shanghai')
                          + toIntervalSecond(om * 60 + bitShiftRight(r, 20) % 60), 'UTC') AS issued_at,
               least(7200., -log(u1) * (1.5 + q / 10) * 60 * if(r % 4 >= 2, 1.5, 1)) AS wait_s,
               concat('C', leftPad(toString(1 + bitShiftRight(r, 30) % [8, 6, 5, 4][h % 4 + 1]), 2, '0')) AS counter_id
        FROM
        (
            SELECT {h_from:UInt64} + intDiv(number, {days:UInt64} * 69) AS h,
                   concat('BM-', leftPad(toString(h), 5, '0')) AS hall_id,
                   intDiv((cityHash64(h, 'quality') % 100) * (cityHash64(h, 'quality') % 100), 100) AS q,
                   addDays({first:Date}, intDiv(number % ({days:UInt64} * 69), 69)) AS day,
                   number % 69 AS k,
                   cityHash64(h, toUInt32(day)) AS rd,
                   intDiv([50, 36, 30, 24][h % 4 + 1] * if(toDayOfWeek(day) >= 6, 125, 100) * (90 + rd % 21), 10000) AS n_visits,
                   cityHash64(h, toUInt32(day), k) AS r,
                   bitShiftRight(r, 40) % 100 AS c,
                   (cityHash64(r, 1) % 1000000 + 0.5) / 1e6 AS u1, (cityHash64(r, 2) % 1000000 + 0.5) / 1e6 AS u2,
                   (cityHash64(r, 3) % 1000000 + 0.5) / 1e6 AS u3, (cityHash64(r, 4) % 1000000 + 0.5) / 1e6 AS u4,
                   (cityHash64(r, 5) % 1000000 + 0.5) / 1e6 AS u5, (cityHash64(r, 6) % 1000000 + 0.5) / 1e6 AS u6,
                   (cityHash64(r, 7) % 1000000 + 0.5) / 1e6 AS u7, (cityHash64(r, 8) % 1000000 + 0.5) / 1e6 AS u8,
                   (cityHash64(r, 9) % 1000000 + 0.5) / 1e6 AS u9, (cityHash64(r, 10) % 1000000 + 0.5) / 1e6 AS u10
            FROM numbers({halls:UInt64} * {days:UInt64} * 69)
            WHERE k < n_visits
        )
    )
)
