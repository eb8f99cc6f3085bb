-- The benchmark's hall catalogue: halls BM-00000 … BM-{halls-1}, open {opens}–{closes}
-- Shanghai (the day roll-up reads the hours for silent minutes). Size classes cycle
-- flagship, large, medium, small (hall index % 4), as in visit_source.sql.
-- Bound parameters: {halls:UInt64}, {opens:String}, {closes:String}.
INSERT INTO halls (hall_id, name, name_en, city, province, size_class, counters, opens, closes, loaded_at)
SELECT concat('BM-', leftPad(toString(number), 5, '0')), concat('营业厅 ', toString(number)),
       concat('Hall ', toString(number)), concat('城市', toString(number % 13)), '基准省',
       ['flagship', 'large', 'medium', 'small'][number % 4 + 1], [8, 6, 5, 4][number % 4 + 1],
       {opens:String}, {closes:String}, now64(3)
FROM numbers({halls:UInt64})
