"""Replay-only: each worker's operator controls read once per replayed day, at its first
poll, and the same answer handed to every later poll of that day (issue 21, speed).

A live worker reads its ``worker_controls`` row (pause buying, liquidate from a time) on
every poll because the operator or the console may write it at any moment. In a replay no
one can:

1. the row's only writers are the operator (``PostgresWorkerControls``, from its
   reconcile pass) and the console's actions; a replay runs neither, and its workers only
   read the row;
2. a backtest replays each day on a database it creates for that day from the migrated
   template (``BacktestDatabases.for_day``, ``parallel_days``), under a name that no
   operator, console or fleet is configured with, and drops it after.

So every read of a replayed day returns what the first one returned, and the poll applies
it exactly as it would a fresh read (``TradingCycle._apply_controls`` runs unchanged; a
pause or a liquidation time written before the day starts is still read and obeyed). What
is left out is one round trip a poll. Live workers never use this: it wraps a cycle inside
``replay.runner`` only; a caller that means to write controls during a replayed day turns
it off (``run_fleet_day(day_controls=False)``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tradefleet.ports.worker_controls import WorkerControls


class _ReadOnce:
    """A worker's controls reader that reads at its first call and answers from then on."""

    def __init__(self, read: Any, owner: DayControls) -> None:
        self._read = read
        self._owner = owner
        self._controls: WorkerControls | None = None

    async def __call__(self) -> WorkerControls:
        if self._controls is None:
            self._controls = await self._read()
            self._owner.read += 1
        else:
            self._owner.served += 1
        return self._controls


class DayControls:
    """The controls of a replayed day's workers, one read each (see the module)."""

    def __init__(self) -> None:
        self.read = 0           # controls read from the database
        self.served = 0         # polls answered with the day's first read

    def watch(self, cycle: Any) -> None:
        """Put the once-a-day read in front of ``cycle``'s controls reader (if it has one)."""
        if cycle.hooks.controls is not None:
            cycle.hooks = replace(cycle.hooks, controls=_ReadOnce(cycle.hooks.controls, self))
