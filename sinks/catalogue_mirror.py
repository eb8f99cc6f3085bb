"""Mirror the hall catalogue into the analytic store, so SQL can join on it."""

from __future__ import annotations

from datetime import datetime, timezone

from schemas.catalogue import Catalogue
from schemas.events import Category
from sinks.store import Store
from sinks.tables import HallRow, HallTargetRow, columns

HALL_COLUMNS = columns(HallRow)
TARGET_COLUMNS = columns(HallTargetRow)


def mirror_catalogue(store: Store, catalogue: Catalogue) -> int:
    now = datetime.now(timezone.utc)
    halls = [(h.hall_id, h.name, h.name_en, h.city, h.province, h.size_class, h.counters,
              h.opens.strftime("%H:%M"), h.closes.strftime("%H:%M"), now) for h in catalogue.halls]
    targets = [(h.hall_id, c.value, catalogue.target_wait_s(h.hall_id, c), catalogue.standard_handle_s(h.hall_id, c), now)
               for h in catalogue.halls for c in Category]
    store.insert(HallRow.table, halls, HALL_COLUMNS)
    store.insert(HallTargetRow.table, targets, TARGET_COLUMNS)
    return len(halls)
