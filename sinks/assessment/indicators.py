"""Indicator values per hall from the analytic store (SQL in ``hall_indicators.sql``).

Everything the user or an appeal supplies is a bound parameter; the SQL text is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sinks.assessment.periods import Period
from sinks.assessment.scheme import INDICATOR_KEYS
from sinks.assessment.scoring import DATA_QUALITY_KEYS, HallFigures
from sinks.sql import load_sql
from sinks.store import Store

SUM_COLUMNS = ("issued", "visits_served", "abandoned", "called", "within_target", "wait_sum_s", "transactions",
               "handle_ratio_sum", "csat_n", "csat_sum", "audit_n", "audit_sum", "complaints")


def sql(name: str) -> str:
    return load_sql(name, "sinks", "assessment")


@dataclass(frozen=True)
class Interval:
    hall_id: str
    start: datetime  # aware
    end: datetime    # aware, exclusive


@dataclass
class Exclusions:
    """Data removed by accepted appeals: intervals of a hall, and single surveys."""

    intervals: list[Interval] = field(default_factory=list)
    surveys: list[tuple[str, str]] = field(default_factory=list)  # (hall_id, survey event_id)

    def parameters(self) -> dict:
        # Halls are bound next to the ids so the store can use its (hall_id, …) sort key.
        return {"ex_halls": [i.hall_id for i in self.intervals], "ex_from": [i.start for i in self.intervals],
                "ex_to": [i.end for i in self.intervals], "ex_surveys": [e for _, e in self.surveys],
                "ex_survey_halls": sorted({h for h, _ in self.surveys})}

    def as_dict(self) -> dict:
        return {"intervals": [{"hall_id": i.hall_id, "from": i.start.isoformat(), "to": i.end.isoformat()}
                              for i in self.intervals],
                "surveys": [{"hall_id": h, "survey_id": e} for h, e in self.surveys]}


def hall_figures(store: Store, period: Period, exclusions: Exclusions | None = None) -> list[HallFigures]:
    params = {"from_day": period.from_day, "to_day": period.to_day, **(exclusions or Exclusions()).parameters()}
    res = store.query(sql("hall_indicators"), params, readonly=True)
    out = []
    for r in res.dicts():
        out.append(HallFigures(
            hall_id=r["hall_id"], name=r["name"], name_en=r["name_en"] or r["hall_id"], city=r["city"],
            province=r["province"], issued=int(r["issued"]),
            values={k: (float(r[f"v_{k}"]) if r[f"v_{k}"] is not None else None) for k in INDICATOR_KEYS},
            samples={"visits": int(r["issued"]), "csat": int(r["csat_n"]), "audit": int(r["audit_n"])},
            sums={k: float(r[k]) for k in SUM_COLUMNS},
            quality={k: (round(float(r[f"dq_{k}"]), 1) if k == "silent_minutes" else int(r[f"dq_{k}"]))
                     for k in DATA_QUALITY_KEYS}))
    return out
