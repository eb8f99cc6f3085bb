"""The hall catalogue: reference data every metric and rule needs (domain.md §2, Reference data).

Loaded from a TOML file into typed models. Per-category targets fall back from the hall
to the catalogue's defaults, so a hall only lists what differs.
"""

from __future__ import annotations

import tomllib
from datetime import time
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import Category

SizeClass = str  # one of the keys of the alert rules' size classes, e.g. "flagship"


class CategoryTargets(BaseModel):
    """Target wait and standard handle time for each service category, in minutes."""

    model_config = ConfigDict(extra="forbid")

    target_wait_min: dict[Category, float] = Field(default_factory=dict)
    standard_handle_min: dict[Category, float] = Field(default_factory=dict)


class Hall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hall_id: str
    name: str
    name_en: str = ""
    city: str
    province: str
    size_class: SizeClass
    counters: int = Field(ge=1)
    opens: time = time(8, 30)
    closes: time = time(18, 0)
    target_wait_min: dict[Category, float] = Field(default_factory=dict)
    standard_handle_min: dict[Category, float] = Field(default_factory=dict)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: CategoryTargets
    halls: list[Hall]

    @model_validator(mode="after")
    def _complete_and_unique(self) -> "Catalogue":
        for name, table in (("target_wait_min", self.defaults.target_wait_min),
                            ("standard_handle_min", self.defaults.standard_handle_min)):
            missing = [c.value for c in Category if c not in table]
            if missing:
                raise ValueError(f"defaults.{name} lacks {', '.join(missing)}")
        seen: set[str] = set()
        for h in self.halls:
            if h.hall_id in seen:
                raise ValueError(f"hall_id {h.hall_id} appears twice")
            seen.add(h.hall_id)
        return self

    @cached_property
    def by_id(self) -> dict[str, Hall]:
        return {h.hall_id: h for h in self.halls}

    def get(self, hall_id: str) -> Hall | None:
        return self.by_id.get(hall_id)

    def __contains__(self, hall_id: str) -> bool:
        return hall_id in self.by_id

    def target_wait_s(self, hall_id: str, category: Category | str) -> float:
        cat = Category(category)
        hall = self.by_id.get(hall_id)
        minutes = (hall.target_wait_min.get(cat) if hall else None) or self.defaults.target_wait_min[cat]
        return minutes * 60.0

    def standard_handle_s(self, hall_id: str, category: Category | str) -> float:
        cat = Category(category)
        hall = self.by_id.get(hall_id)
        minutes = (hall.standard_handle_min.get(cat) if hall else None) or self.defaults.standard_handle_min[cat]
        return minutes * 60.0

    def cities(self) -> list[str]:
        return sorted({h.city for h in self.halls})


def load_catalogue(path: Path) -> Catalogue:
    with open(path, "rb") as f:
        return Catalogue.model_validate(tomllib.load(f))
