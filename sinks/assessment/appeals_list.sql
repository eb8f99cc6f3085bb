-- Appeals of a period with their current status (the latest decision; none = pending).
-- Bound parameters: {period:String}.
SELECT a.appeal_id AS appeal_id, a.period AS period, a.hall_id AS hall_id, toString(a.kind) AS kind,
       a.exclude_from AS exclude_from, a.exclude_to AS exclude_to, a.survey_id AS survey_id,
       a.reason AS reason, a.filed_by AS filed_by, a.filed_at AS filed_at, a.against_version AS against_version,
       d.decisions AS decisions, d.last_decision AS decision, d.last_by AS decided_by, d.last_at AS decided_at,
       d.last_reason AS decision_reason, d.last_version AS decided_version
FROM appeals AS a
LEFT JOIN
(
    SELECT appeal_id, count() AS decisions,
           toString(argMax(decision, decided_at)) AS last_decision,
           argMax(decided_by, decided_at) AS last_by,
           max(decided_at) AS last_at,
           argMax(reason, decided_at) AS last_reason,
           argMax(version, decided_at) AS last_version
    FROM appeal_decisions
    WHERE appeal_id IN (SELECT appeal_id FROM appeals WHERE period = {period:String})
    GROUP BY appeal_id
) AS d ON d.appeal_id = a.appeal_id
WHERE a.period = {period:String}
ORDER BY a.filed_at, a.appeal_id
