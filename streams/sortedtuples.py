"""A sorted list of tuples kept in one plain list, for the indices read after every event.

:class:`sortedcontainers.SortedList` scales to millions of entries, but its bisection and
``irange`` are Python code: the queue gauges read a few windows of a hall's indices after
every visit step, where that overhead is most of the work. A hall's window indices hold a
day or so of entries (thousands), so a plain list bisected by the C ``bisect`` module is
faster for both reading and inserting. The semantics are SortedList's: duplicates allowed,
``remove`` of a missing item raises ``ValueError``, ``irange`` bounds inclusive.

With ``column``, one field of every item is also kept in a parallel list, so that a
window's values are one slice (``len(set(...))``, ``sum(...)`` in C, no loop over tuples).
:meth:`distinct_in` and :meth:`mean_in` also remember their last answer (one window each):
the gauges ask the same window of a category again and again while nothing enters or
leaves it (the other categories' events, the minute gauges), and a list that changed
forgets it.

Every item's first field (a time, an int) is also kept in a list of its own: bisecting
that list compares ints, several times cheaper than comparing tuples, and only the few
items sharing a bound's time are compared as tuples (see :meth:`_span`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, Iterator


class SortedTuples:
    __slots__ = ("items", "keys", "column", "values", "_distinct", "_mean")

    def __init__(self, column: int | None = None) -> None:
        self.items: list[tuple] = []
        self.keys: list[Any] = []  # item[0] of each item, in order
        self.column = column
        self.values: list[Any] | None = None if column is None else []  # item[column] of each item, in order
        # the last answer of distinct_in / mean_in, as ((start, stop) of the slice, answer)
        self._distinct: tuple[tuple[int, int], int] | None = None
        self._mean: tuple[tuple[int, int], float | None] | None = None

    def add(self, item: tuple) -> None:
        keys, key = self.keys, item[0]
        i = bisect_right(self.items, item, bisect_left(keys, key), bisect_right(keys, key))
        self.items.insert(i, item)
        keys.insert(i, key)
        self._distinct = self._mean = None
        if self.values is not None:
            self.values.insert(i, item[self.column])

    def remove(self, item: tuple) -> None:
        items, keys, key = self.items, self.keys, item[0]
        i = bisect_left(items, item, bisect_left(keys, key), bisect_right(keys, key))
        if i == len(items) or items[i] != item:
            raise ValueError(f"{item!r} not in list")
        del items[i]
        del keys[i]
        self._distinct = self._mean = None
        if self.values is not None:
            del self.values[i]

    def _span(self, minimum: tuple | None, maximum: tuple | None) -> tuple[int, int]:
        """``(start, stop)`` of the items ``minimum <= item <= maximum``: what bisecting the
        items gives, found by bisecting their first fields, then comparing whole tuples only
        among the items whose first field equals a bound's."""
        items, keys = self.items, self.keys
        if minimum is None:
            i = 0
        else:
            key = minimum[0]
            i = bisect_left(keys, key)
            # a bound of one field, (t,), comes before every item of time t
            if len(minimum) > 1 and i < len(keys) and keys[i] == key:
                i = bisect_left(items, minimum, i, bisect_right(keys, key, i))
        if maximum is None:
            j = len(items)
        else:
            key = maximum[0]
            j = bisect_right(keys, key)
            if j and keys[j - 1] == key:  # items of the bound's time: compare them whole
                j = bisect_right(items, maximum, bisect_left(keys, key, 0, j), j)
        return i, j  # j < i: an empty slice, as bisecting the items gives

    def count_upto(self, maximum: tuple) -> int:
        """How many items are ``<= maximum``."""
        keys = self.keys
        if not keys or keys[-1] < maximum[0]:
            return len(keys)  # the common case of a queue: every wait began before
        return self._span(None, maximum)[1]

    def irange(self, minimum: tuple | None = None, maximum: tuple | None = None) -> list[tuple]:
        """The items ``minimum <= item <= maximum`` in order (a bound left out: no bound)."""
        i, j = self._span(minimum, maximum)
        return self.items[i:j]

    def before(self, key: Any) -> list[tuple]:
        """The items whose first field is less than ``key``, in order."""
        return self.items[:bisect_left(self.keys, key)]

    def values_in(self, minimum: tuple, maximum: tuple) -> list[Any]:
        """The ``column`` of the items ``minimum <= item <= maximum``, in order."""
        i, j = self._span(minimum, maximum)
        return self.values[i:j]

    def distinct_in(self, minimum: tuple, maximum: tuple) -> int:
        """How many different ``column`` values the items ``minimum <= item <= maximum`` have."""
        span = self._span(minimum, maximum)
        last = self._distinct
        if last is not None and last[0] == span:
            return last[1]  # the same slice of an unchanged list
        n = len(set(self.values[span[0]:span[1]]))
        self._distinct = span, n
        return n

    def mean_in(self, minimum: tuple, maximum: tuple) -> float | None:
        """The mean ``column`` value of the items ``minimum <= item <= maximum`` (summed in
        order), None when there are none."""
        span = self._span(minimum, maximum)
        last = self._mean
        if last is not None and last[0] == span:
            return last[1]
        values = self.values[span[0]:span[1]]
        mean = sum(values) / len(values) if values else None
        self._mean = span, mean
        return mean

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.items)

    def __getitem__(self, i):
        return self.items[i]
