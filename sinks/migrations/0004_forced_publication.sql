-- 0004: a publication before the period's end is refused unless forced, and the forcing
-- is recorded (domain.md §5). 1 = version 1 was published with --force before the period
-- ended in Asia/Shanghai; 0 otherwise (and for every version published before this column).

ALTER TABLE assessment_versions ADD COLUMN IF NOT EXISTS forced UInt8 DEFAULT 0;
