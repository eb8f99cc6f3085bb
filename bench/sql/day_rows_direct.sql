-- Shortcut of the benchmark (--fill-rest-of-year-directly), labelled in its output: day
-- rows written directly, not rolled up from facts. Every day of [year_from, year_to)
-- outside the filled days [first, last_excl) gets a copy of the hall's day_metrics rows
-- (all categories) of the filled day at the same offset modulo the filled length, so the
-- annual assessment reads a full year of day rows with the facts' distributions when a
-- year of facts cannot be rolled up in the time.
-- Bound parameters: {first:Date}, {last_excl:Date}, {year_from:Date}, {year_to:Date}.
INSERT INTO day_metrics
SELECT * EXCEPT (targets) REPLACE (target AS day)
FROM
(
    SELECT *,
           arrayFilter(x -> (x < {first:Date} OR x >= {last_excl:Date})
                            AND positiveModulo(toInt64(x - {first:Date}), toInt64({last_excl:Date} - {first:Date}))
                                = toInt64(day - {first:Date}),
                       arrayMap(i -> addDays({year_from:Date}, i),
                                range(toUInt64({year_to:Date} - {year_from:Date})))) AS targets
    FROM day_metrics FINAL
    WHERE day >= {first:Date} AND day < {last_excl:Date}
)
ARRAY JOIN targets AS target
