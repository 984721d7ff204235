"""A backtest's days run at once in separate processes (``tradefleet backtest --jobs N``,
issue 21, speed).

The days of a backtest are independent by construction (``replay.backtest``): each runs on
a database of its own, cloned from the backtest's migrated template, and the workers are
flat at each day's close, so no day reads anything another day wrote. A day is therefore
the same whether it runs alone, after another, or beside one: the processes only change
how soon the days end. Each process runs whole days, one at a time, as the one-process
backtest does (``replay_fleet_day``); the parent creates the template, names each day's
database (so that it drops them all, also after a failure), hears the days as they finish
and puts them back in date order, so that the summary and the report do not depend on
which process ended first.

Processes are spawned, not forked: the parent runs an asyncio loop with open sockets, which
a forked child must not inherit.

What the days' own replay does not need to wait for is done beside it (issue 21, the fleet's
wall time): the processes start, and import what a day runs, while the parent builds the
template (``DayProcesses``); the parent creates the next day's database while the days
before it run, so that a process that ends a day starts the next at once, and drops a day's
database as soon as that day has ended (``DayDatabases``), not all of them after the last."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from datetime import time as dtime
from pathlib import Path
from typing import Any, Protocol

from tradefleet.settings import Settings

MAX_JOBS = 64                   # more processes than this is a typo on any machine we run


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else all)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:                   # not Linux
        return os.cpu_count() or 1


def default_jobs(days: int) -> int:
    """What a user would expect without ``--jobs``: one process per core, no more than
    there are days to run."""
    return max(1, min(usable_cores(), days))


def _child_start() -> None:
    """A spawned process logs as the command does: errors only, to stderr; imports what a
    day runs now, while the parent still builds the template; and collects its garbage as
    a day's replay wants (``replay.day_collector``)."""
    from tradefleet.adapters.telemetry.logging import configure_logging
    from tradefleet.replay.day_collector import tune_for_days

    configure_logging(level="error")
    import tradefleet.replay.day_database  # noqa: F401
    import tradefleet.replay.runner  # noqa: F401
    tune_for_days()                          # after the imports: they are frozen with it


def _started() -> int:
    """A first task for a new process: it starts (``_child_start``) to answer it."""
    return os.getpid()


def _run_day(server_dsn: str, database: str, folder: Path, fleet: Sequence[Settings],
             start: dtime | None, options: dict[str, Any]) -> Any:
    """In a child: replay the day on its database (created by the parent)."""
    return asyncio.run(_replay_on_database(server_dsn, database, folder, fleet, start,
                                           options))


async def _replay_on_database(server_dsn: str, database: str, folder: Path,
                              fleet: Sequence[Settings], start: dtime | None,
                              options: dict[str, Any]) -> Any:
    from tradefleet.replay.day_database import day_database
    from tradefleet.replay.runner import replay_fleet_day

    async with day_database(server_dsn, None, database) as db:
        return await replay_fleet_day(folder, db, fleet, start=start, **options)


DayJob = tuple[date, Path, str]                 # (day, its recording, its database's name)


def in_day_order(finished: dict[int, Any]) -> list[Any]:
    """Days heard in the order they finished ({index in the plan: run}), in the plan's."""
    return [finished[k] for k in sorted(finished)]


class DayDatabases(Protocol):
    """The days' databases as the parent makes them (``replay.backtest.BacktestDatabases``)."""

    server: str

    async def create(self, name: str) -> None:
        """Create database ``name`` from the backtest's template."""

    async def release(self, name: str) -> None:
        """A day has ended on database ``name``: drop it, unless the backtest keeps them."""


class DayProcesses:
    """``jobs`` day processes, started as soon as this is made (each spawned by a first,
    empty task), so that they start up while the caller builds the template; ``run`` gives
    them the days, ``shutdown`` ends them."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool = ProcessPoolExecutor(max_workers=jobs, initializer=_child_start,
                                         mp_context=multiprocessing.get_context("spawn"))
        for _ in range(jobs):       # one process started per task while none is idle
            self._pool.submit(_started)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, days: Sequence[DayJob], databases: DayDatabases, *,
                  fleet: Sequence[Settings], start: dtime | None, options: dict[str, Any],
                  on_done: Callable[[int, Any], None]) -> list[Any]:
        """Run ``days`` in the processes; ``on_done(index, run)`` hears of each day as it
        finishes (in the order they finish). Returns the ``DayRun``s in the order of
        ``days``. A day's database is created before the day is handed to a process, the
        next one's while the days before it run, and released once the day has ended. The
        first day to fail ends the run (days not yet started do not start) and its error
        is raised."""
        loop = asyncio.get_running_loop()
        runs: dict[int, Any] = {}
        pending: dict[asyncio.Future[Any], int] = {}
        fleet = list(fleet)
        ahead: asyncio.Task[None] | None = None         # creating day ``given``'s database
        given = 0

        def make_ahead() -> None:
            nonlocal ahead
            ahead = (asyncio.ensure_future(databases.create(days[given][2]))
                     if given < len(days) else None)

        async def give() -> None:                       # the next day to a process
            nonlocal given
            assert ahead is not None
            await ahead                                 # its database, made (or its error)
            _, folder, name = days[given]
            pending[loop.run_in_executor(self._pool, _run_day, databases.server, name,
                                         folder, fleet, start, options)] = given
            given += 1
            make_ahead()

        make_ahead()
        try:
            while given < min(self.jobs, len(days)):
                await give()
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    k = pending.pop(future)
                    runs[k] = future.result()           # a day's error ends the backtest
                    if ahead is not None:               # its process: straight on
                        await give()
                    on_done(k, runs[k])
                    await databases.release(days[k][2])
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
        return in_day_order(runs)
