"""Python's garbage collector tuned for a process that replays days (issue 21, speed).

A replayed fleet-day allocates millions of short-lived objects (rows, quotes, events). With
Python's default thresholds (700 new objects between young collections) one fleet-day ran
~1,700 young and ~10 full collections, 1.2 s of its ~20 s of CPU, most of it walking the
same long-lived objects (the day's tape, the imported modules) again and again. Frozen
after the imports and collected every 50,000 new objects, the same day ran 17 young
collections, 0.24 s (``bench/replay_profile.py``). When objects are freed changes no
result: nothing a day computes depends on a finalizer or a weak reference's timing, and
the trades stay byte-identical (``tests/test_parallel_days.py``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

DAY_THRESHOLDS = (50_000, 20, 1_000)


def tune_for_days() -> None:
    """For a process that only replays days (``replay.parallel_days``): what exists now is
    kept out of every collection, and collections run less often, for good."""
    gc.freeze()
    gc.set_threshold(*DAY_THRESHOLDS)


@contextmanager
def collector_for_days() -> Iterator[None]:
    """The same for the days of a one-process backtest, and Python's own settings again
    after them (the process may do more than replay)."""
    before = gc.get_threshold()
    tune_for_days()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
