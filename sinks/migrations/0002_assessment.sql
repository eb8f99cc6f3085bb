-- 0002: published assessment versions and appeals (公示与申诉, domain.md §5).
--
-- Insert-only: plain MergeTree, never UPDATE or DELETE. A published version is a row
-- that is never changed; an accepted appeal adds the next version. An appeal's status is
-- its latest decision (none = pending). No TTL: these are the record.

CREATE TABLE IF NOT EXISTS assessment_versions
(
    period        String,                    -- 2026-10 | 2026-Q3 | 2026
    version       UInt32,                    -- 1, 2, ...
    version_id    String,                    -- uuid; the earliest row wins if two publishers raced
    published_at  DateTime64(3, 'UTC'),
    published_by  String,
    reason        String,
    appeal_ids    Array(String),             -- accepted appeals applied (cumulative)
    appeals       String,                    -- JSON: those appeals with who, when and why
    scheme        String,                    -- JSON: the scheme used
    results       String                     -- JSON: halls, cities, provinces
)
ENGINE = MergeTree
ORDER BY (period, version, published_at);

CREATE TABLE IF NOT EXISTS appeals
(
    appeal_id     String,
    period        String,
    hall_id       String,
    kind          LowCardinality(String),    -- interval | survey
    exclude_from  DateTime64(3, 'UTC'),      -- interval appeals; epoch otherwise
    exclude_to    DateTime64(3, 'UTC'),
    survey_id     String,                    -- survey appeals; '' otherwise
    reason        String,
    filed_by      String,
    filed_at      DateTime64(3, 'UTC'),
    against_version UInt32                   -- the latest version when it was filed
)
ENGINE = MergeTree
ORDER BY (period, appeal_id);

CREATE TABLE IF NOT EXISTS appeal_decisions
(
    appeal_id     String,
    decision      LowCardinality(String),    -- accepted | rejected
    decided_by    String,
    decided_at    DateTime64(3, 'UTC'),
    reason        String,
    version       UInt32                     -- version produced by an acceptance; 0 otherwise
)
ENGINE = MergeTree
ORDER BY (appeal_id, decided_at);
