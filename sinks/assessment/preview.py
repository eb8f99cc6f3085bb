"""What a new version changes for each hall (the dry run of ``appeal decide``): score,
grade and ranks before → after, for the halls where any of them differ."""

from __future__ import annotations

from dataclasses import dataclass

from sinks.assessment.labels import labels


@dataclass(frozen=True)
class HallChange:
    hall_id: str
    name: str
    city: str
    total: tuple[float | None, float | None]
    grade: tuple[str | None, str | None]
    rank_province: tuple[int | None, int | None]
    rank_city: tuple[int | None, int | None]

    def as_dict(self) -> dict:
        return {"hall_id": self.hall_id, "name": self.name, "city": self.city,
                **{k: {"before": getattr(self, k)[0], "after": getattr(self, k)[1]}
                   for k in ("total", "grade", "rank_province", "rank_city")}}


def hall_changes(before: dict, after: dict) -> list[HallChange]:
    """Halls whose total, grade or a rank differs between two reports (a hall only in one
    of them shows None on the other side), in the after report's ranking order."""
    old = {h["hall_id"]: h for h in before.get("halls", [])}
    new = {h["hall_id"]: h for h in after.get("halls", [])}
    order = [h["hall_id"] for h in after.get("halls", [])] + [k for k in old if k not in new]
    out = []
    for hid in order:
        a, b = old.get(hid, {}), new.get(hid, {})
        pair = lambda k: (a.get(k), b.get(k))  # noqa: E731
        change = HallChange(hid, (b or a)["name"], (b or a)["city"], pair("total"), pair("grade"),
                            pair("rank_province"), pair("rank_city"))
        if any(x != y for x, y in (change.total, change.grade, change.rank_province, change.rank_city)):
            out.append(change)
    return out


def _cell(pair: tuple, fmt=str) -> str:
    a, b = (("—" if v is None else fmt(v)) for v in pair)
    return a if a == b else f"{a} → {b}"


def change_rows(changes: list[HallChange], lang: str = "zh") -> tuple[list[str], list[list[str]]]:
    """Headers and cells of a before → after table."""
    L = labels(lang)
    headers = [L["hall_id"], L["name"], L["city"], L["total"], L["grade"], L["rank_province"], L["rank_city"]]
    score = lambda v: f"{v:.2f}"  # noqa: E731
    grade = lambda v: v or L["not_graded"]  # noqa: E731
    rows = [[c.hall_id, c.name, c.city, _cell(c.total, score),
             _cell(tuple(grade(g) for g in c.grade)), _cell(c.rank_province), _cell(c.rank_city)]
            for c in changes]
    return headers, rows
