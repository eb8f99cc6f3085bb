-- 某营业厅的升级投诉明细（文本已脱敏）
-- Escalated complaints of one hall, newest first, with their (masked) text.
--
-- Phone and ID numbers in complaint text were masked (138****1234) before the row was
-- written; nothing here can reveal a customer. answered_local is Asia/Shanghai time.
-- Source: complaints (a view over surveys FINAL).
--
-- Parameters:
--   {hall_id:String}   the hall, e.g. JS-NJ-0003
--   {from_day:Date}    first business day included (Asia/Shanghai)
--   {to_day:Date}      first business day NOT included (Asia/Shanghai)
--   {limit:UInt32}     how many complaints to return
SELECT
    toTimeZone(c.answered_at, 'Asia/Shanghai')   AS answered_local,
    c.kind                                       AS kind,
    c.channel                                    AS channel,
    c.category                                   AS service_category,
    c.complaint_category                         AS complaint_category,
    c.complaint_text                             AS complaint_text,
    c.staff_id                                   AS staff_id,
    c.visit_id                                   AS visit_id,
    c.event_id                                   AS event_id
FROM complaints AS c
WHERE c.hall_id = {hall_id:String}
  AND c.complaint_severity = 'escalated'
  AND c.answered_at >= toDateTime({from_day:Date}, 'Asia/Shanghai')
  AND c.answered_at < toDateTime({to_day:Date}, 'Asia/Shanghai')
ORDER BY c.answered_at DESC, c.event_id
LIMIT {limit:UInt32}
