"""Which channels hear of an alert: the most specific route wins.

A route naming the hall beats routes naming its city, which beat ``default_channels``.
Routes of the same specificity add up (two routes naming 南京 both get 南京's alerts).
An alert of a hall missing from the catalogue has no city and goes by hall id or default.
"""

from __future__ import annotations

from sinks.notify.settings import RouteSettings


def channels_for(hall_id: str, city: str | None, routes: list[RouteSettings], default: list[str]) -> list[str]:
    by_hall = [r for r in routes if hall_id in r.halls]
    by_city = [r for r in routes if city is not None and city in r.cities]
    chosen = by_hall or by_city
    names = [n for r in chosen for n in r.channels] if chosen else list(default)
    return list(dict.fromkeys(names))  # each channel once, in the order configured
