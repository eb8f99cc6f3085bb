-- Mystery-shopper and inspection visits of halls [h_from, h_from + halls) over days
-- [first, first + days), on the rota of tests/seeding.py (mystery shopper every 9th day,
-- inspection every 6th, staggered by hall), answered 10:00–15:59 Shanghai, score about
-- 92 − q/4 (q the hall quality of visit_source.sql) ± ~6.
-- Bound parameters: {h_from:UInt64}, {halls:UInt64}, {first:Date}, {days:UInt64}.
INSERT INTO surveys (event_id, hall_id, kind, visit_id, staff_id, category, channel, answered_at, score, dimensions,
                     has_complaint, complaint_category, complaint_severity, complaint_text, comment, late)
SELECT concat('au-', hall_id, '-', formatDateTime(day, '%Y%m%d'), '-', kind), hall_id, kind, '', '', '', 'onsite',
       toTimeZone(toDateTime64(toString(day), 3, 'Asia/Shanghai') + toIntervalSecond(36000 + r % 21600), 'UTC'),
       toUInt8(least(100, greatest(0, round(92 - q / 4 + (bitShiftRight(r, 20) % 13) - 6)))), map(), 0, '', '', '', '', 0
FROM
(
    SELECT h, hall_id, q, day, kind, cityHash64(h, dn, kind) AS r
    FROM
    (
        SELECT {h_from:UInt64} + intDiv(number, {days:UInt64}) AS h,
               concat('BM-', leftPad(toString(h), 5, '0')) AS hall_id,
               intDiv((cityHash64(h, 'quality') % 100) * (cityHash64(h, 'quality') % 100), 100) AS q,
               addDays({first:Date}, number % {days:UInt64}) AS day,
               toUInt32(day) AS dn
        FROM numbers({halls:UInt64} * {days:UInt64})
    )
    ARRAY JOIN ['mystery_shopper', 'inspection'] AS kind
    WHERE if(kind = 'mystery_shopper', (dn + h) % 9 = 0, (dn + 2 * h) % 6 = 3)
)
