"""Words on screen and in files, Simplified Chinese by default, English with --lang en."""

from __future__ import annotations

LABELS = {
    "zh": {
        "title": "营业厅服务质量考核",
        "level.hall": "营业厅", "level.city": "地市", "level.province": "省",
        "rank_province": "省内排名", "rank_city": "市内排名", "rank": "排名",
        "hall_id": "营业厅编码", "name": "营业厅名称", "city": "地市", "province": "省份",
        "issued": "取票量", "total": "综合得分", "grade": "等级", "flag": "整改标记",
        "streak": "连续不合格期数", "halls": "营业厅数", "graded_halls": "参评营业厅数",
        "rectification": "整改数", "escalated": "升级督办数",
        "value": "值", "points": "得分", "small_sample": "样本不足", "no_data": "无数据",
        "flag.rectification": "整改", "flag.escalated": "升级督办",
        "version": "版本", "live": "实时计算（未公示）", "published": "已公示",
        "published_by": "公示人", "published_at": "公示时间", "reason": "原因",
        "appeals": "已采纳申诉", "appeal_id": "申诉编号", "filed_by": "申诉人", "filed_at": "申诉时间",
        "decided_by": "审核人", "decided_at": "审核时间", "exclusion": "剔除内容",
        "histogram": "综合得分分布", "breakdown": "得分最低营业厅的指标得分构成",
        "histogram.x": "综合得分", "histogram.y": "营业厅数", "lost": "失分",
        "ranking": "排名", "period": "考核期", "scheme": "考核方案", "weight": "权重",
        "direction": "方向", "full_at": "满分线", "zero_at": "零分线",
        "direction.higher": "越高越好", "direction.lower": "越低越好",
        "grades": "等级划分", "generated": "生成时间", "none": "无",
        "interval": "时段", "survey": "评价", "indicator": "指标",
        "coverage": "有效指标权重", "coverage_note": "指标覆盖", "few_indicators": "指标不足",
        "not_graded": "不参评", "sample_notes": "样本说明", "forced": "未到期强制公示",
        "coverage.note": ("有效指标权重 = 样本充足的指标在考核方案中的权重之和。低于 {min:.0%} 的营业厅不参评、不排名；"
                          "参评但低于 {few:.0%} 的标为“指标不足”：其得分只反映少数指标。"),
        "status": "状态", "status.pending": "待审核", "status.accepted": "已采纳", "status.rejected": "已驳回",
        # data quality (domain.md §3): beside each hall, never scored
        "data_quality": "数据质量",
        "dq.inferred_calls": "推断叫号", "dq.expired_visits": "过期未叫",
        "dq.silent_minutes": "数据中断(分钟)", "dq.late_events": "迟到数据",
        "dq.note": ("数据质量为考核期内各日（day_metrics，全部业务）之和，仅供参考，不计入得分："
                    "推断叫号 = 叫号事件缺失、以开始办理或交易时间代替的叫号数；"
                    "过期未叫 = 闭厅 30 分钟后仍未结束的到访数（不计入等候与弃号）；"
                    "数据中断 = 营业时间内连续 15 分钟以上无取号/交易数据的分钟数；"
                    "迟到数据 = 超过 10 分钟宽限才到达、仍照常计入的事件数。"
                    "申诉剔除的时段不扣减这些数字。"),
    },
    "en": {
        "title": "Business hall service quality assessment",
        "level.hall": "Halls", "level.city": "Cities", "level.province": "Provinces",
        "rank_province": "Rank (province)", "rank_city": "Rank (city)", "rank": "Rank",
        "hall_id": "Hall ID", "name": "Hall", "city": "City", "province": "Province",
        "issued": "Visits issued", "total": "Total score", "grade": "Grade", "flag": "Flag",
        "streak": "Failing periods in a row", "halls": "Halls", "graded_halls": "Graded halls",
        "rectification": "Rectification", "escalated": "Escalated",
        "value": "value", "points": "points", "small_sample": "small sample", "no_data": "no data",
        "flag.rectification": "rectification", "flag.escalated": "escalated",
        "version": "Version", "live": "computed live (not published)", "published": "published",
        "published_by": "Published by", "published_at": "Published at", "reason": "Reason",
        "appeals": "Accepted appeals", "appeal_id": "Appeal", "filed_by": "Filed by", "filed_at": "Filed at",
        "decided_by": "Decided by", "decided_at": "Decided at", "exclusion": "Excluded",
        "histogram": "Distribution of total scores", "breakdown": "Indicator points of the lowest-scoring halls",
        "histogram.x": "Total score", "histogram.y": "Halls", "lost": "points lost",
        "ranking": "Ranking", "period": "Period", "scheme": "Scheme", "weight": "Weight",
        "direction": "Direction", "full_at": "Full marks at", "zero_at": "Zero at",
        "direction.higher": "higher is better", "direction.lower": "lower is better",
        "grades": "Grades", "generated": "Generated", "none": "none",
        "interval": "interval", "survey": "survey", "indicator": "Indicator",
        "coverage": "Weight covered", "coverage_note": "Coverage", "few_indicators": "few indicators",
        "not_graded": "not assessed", "sample_notes": "Sample notes", "forced": "forced before the period ended",
        "coverage.note": ("Weight covered = the scheme weight of the indicators with enough sample. Halls below "
                          "{min:.0%} are not assessed and not ranked; graded halls below {few:.0%} are marked "
                          "'few indicators': their score rests on few indicators."),
        "status": "Status", "status.pending": "pending", "status.accepted": "accepted", "status.rejected": "rejected",
        "data_quality": "Data quality",
        "dq.inferred_calls": "Inferred calls", "dq.expired_visits": "Expired visits",
        "dq.silent_minutes": "Silent minutes", "dq.late_events": "Late events",
        "dq.note": ("Data quality is summed over the period's days (day_metrics, all categories) and is "
                    "informational only, never scored: inferred calls = calls whose event was lost, the "
                    "service start or transaction standing for it; expired visits = visits still open 30 min "
                    "after closing (counted in no wait and no abandonment); silent minutes = minutes of "
                    "opening hours beyond 15 in a row without ticket or transaction data; late events = "
                    "events that arrived after the 10-minute grace and still count. Intervals excluded by "
                    "appeals do not reduce these figures."),
    },
}


def labels(lang: str) -> dict[str, str]:
    return LABELS["en" if lang == "en" else "zh"]
