"""The message people read: Chinese, with the figures and the suggested action.

One :class:`Message` (a title and a Markdown body) serves both robots: WeCom's and
DingTalk's Markdown share headings, bold, quotes and links. Times are Asia/Shanghai
(+08:00); customer phone and ID numbers never appear (the text is masked anyway, as
every free text leaving hallpulse is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.catalogue import Hall
from schemas.events import AlertAction, AlertEvent, AlertLevel, AlertRule
from schemas.privacy import mask_text
from streams.windows import SHANGHAI

# the words of the lobby page (streams/static/i18n.js), so a manager reads the same terms
CATEGORY_ZH = {
    "consult": "业务咨询", "open_account": "开户入网", "plan_change": "套餐变更", "payment": "缴费充值",
    "terminal": "终端业务", "broadband": "宽带业务", "vip": "VIP专席", "other": "其他", "all": "全部业务",
}
LEVEL_ZH = {AlertLevel.warning: "预警", AlertLevel.critical: "严重"}
RULE_ZH = {AlertRule.queue: "排队预警", AlertRule.complaint_spike: "投诉激增", AlertRule.feed: "数据中断"}
ACTION_ZH = {AlertAction.opened: "新发生", AlertAction.escalated: "升级为严重", AlertAction.closed: "已恢复"}

_TRIGGER = re.compile(r"^(?P<name>[a-z_]+?)(?:_(?P<window>\d+(?:\.\d+)?)min)?(?P<op>>=|<)(?P<value>\d+(?:\.\d+)?)(?P<unit>min)?$")
_TRIGGER_ZH = {"waiting": ("等候人数", "人"), "longest_wait": ("最长等候", "分钟"),
               "estimated_wait": ("预计等候", "分钟"), "complaints": ("投诉", "条"),
               "escalated_complaints": ("升级投诉", "条"), "no_event": ("无新数据", "分钟")}


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # Markdown


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def trigger_zh(trigger: str) -> str:
    """``waiting>=15`` → ``等候人数 ≥ 15 人``; ``complaints_60min>=3`` → ``60 分钟内投诉 ≥ 3 条``."""
    m = _TRIGGER.match(trigger)
    if not m or m["name"] not in _TRIGGER_ZH:
        return trigger
    label, unit = _TRIGGER_ZH[m["name"]]
    if m["window"]:
        label = f"{_num(float(m['window']))} 分钟内{label}"
    op = "≥" if m["op"] == ">=" else "<"
    return f"{label} {op} {_num(float(m['value']))} {unit}"


def figures_zh(e: AlertEvent) -> list[str]:
    f = e.figures
    out = []
    if "waiting" in f:
        out.append(f"等候 {_num(f['waiting'])} 人")
    if "longest_wait_s" in f:
        out.append(f"最长等候 {_num(f['longest_wait_s'] / 60)} 分钟")
    if "estimated_wait_s" in f:
        out.append(f"预计等候 {_num(f['estimated_wait_s'] / 60)} 分钟")
    if "complaints_in_window" in f:
        window = f" {_num(f['complaint_spike_window_min'])} 分钟内" if "complaint_spike_window_min" in f else ""
        out.append(f"{window.strip()}投诉 {_num(f['complaints_in_window'])} 条")
        if f.get("escalated_in_window"):
            out.append(f"其中升级投诉 {_num(f['escalated_in_window'])} 条")
    if "silent_min" in f:
        out.append(f"已 {_num(f['silent_min'])} 分钟无新数据")
    return out


def render(e: AlertEvent, hall: Hall | None, *, lobby_url: str | None = None, held_before: int = 0) -> Message:
    name = hall.name if hall else e.hall_id
    city = hall.city if hall else "未知地市"
    local = e.occurred_at.astimezone(SHANGHAI)
    when = f"{local:%Y-%m-%d %H:%M} (+08:00)"
    rule = RULE_ZH.get(e.rule, str(e.rule))
    category = CATEGORY_ZH.get(str(e.category), str(e.category))
    if e.action is AlertAction.closed:
        title = f"【已恢复】{name} {rule}"
        lines = [f"### {title}", f"**地市**：{city}　**业务**：{category}",
                 f"**恢复时间**：{when}"]
        if e.suggested_action:
            lines.append(f"**建议**：{e.suggested_action}")
    else:
        level = LEVEL_ZH[e.level]
        title = f"【{level}】{name} {rule}"
        lines = [f"### {title}",
                 f"**级别**：{level}（{ACTION_ZH[e.action]}）",
                 f"**地市**：{city}　**营业厅**：{name}（{e.hall_id}）　**业务**：{category}"]
        if e.triggers:
            lines.append("**触发条件**：" + "；".join(trigger_zh(t) for t in e.triggers))
        figures = figures_zh(e)
        if figures:
            lines.append("**当前情况**：" + "，".join(figures))
        lines.append(f"**建议措施**：{e.suggested_action}")
        lines.append(f"**时间**：{when}")
        if held_before:
            lines.append(f"> 此前 {held_before} 条同厅预警因推送间隔未单独发送")
    if lobby_url:
        lines.append(f"[查看大堂看板]({lobby_url.format(hall_id=e.hall_id)})")
    return Message(title=mask_text(title), text=mask_text("\n\n".join(lines)))


def probe_message(channel: str, now_local: str) -> Message:
    """What ``hallpulse notify test`` sends: proves the robot, its key and its keywords work."""
    title = "【测试】hallpulse 排队预警推送"
    return Message(title=title, text=f"### {title}\n\n渠道 {channel} 已接通，时间 {now_local} (+08:00)。")
