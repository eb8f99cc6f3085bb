"""Python's cyclic garbage collector in the long-running processes (worker, sink).

CPython runs a collection of its youngest objects every 700 allocations net of frees,
one of the older ones every tenth of those, and walks every object of the generation
each time. The worker allocates dozens of objects per event (steps, index entries,
facts) and holds hundreds of thousands for the retention (tables and indices), the sink
builds tens of thousands of rows per write: both spent a fifth or more of their time in
collections that found almost nothing, their data being dicts, lists and tuples that
reference counting frees (``bench/bench_stream.py --gc-threshold 0`` against the default
shows it). So the collections run rarer (``gc_threshold``: allocations between two of the
youngest), and
what is alive once the process has started (modules, the catalogue) is frozen out of
their walk (``gc.freeze``, as the CPython documentation suggests for long-lived servers).
"""

from __future__ import annotations

import gc


def tune_gc(threshold: int) -> None:
    """Apply ``[gc_threshold]`` to this process; 0 leaves Python's defaults."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
