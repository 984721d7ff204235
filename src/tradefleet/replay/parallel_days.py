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
a forked child must not inherit."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from datetime import time as dtime
from pathlib import Path
from typing import Any

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
    """A spawned process logs as the command does: errors only, to stderr."""
    from tradefleet.adapters.telemetry.logging import configure_logging

    configure_logging(level="error")


def _run_day(server_dsn: str, database: str, template: str, folder: Path,
             fleet: Sequence[Settings], start: dtime | None,
             options: dict[str, Any]) -> Any:
    """In a child: create the day's database from the template, replay the day on it."""
    return asyncio.run(_replay_on_new_database(server_dsn, database, template, folder,
                                               fleet, start, options))


async def _replay_on_new_database(server_dsn: str, database: str, template: str,
                                  folder: Path, fleet: Sequence[Settings],
                                  start: dtime | None, options: dict[str, Any]) -> Any:
    from tradefleet.replay.day_database import day_database
    from tradefleet.replay.runner import replay_fleet_day

    async with day_database(server_dsn, template, database) as db:
        return await replay_fleet_day(folder, db, fleet, start=start, **options)


DayJob = tuple[date, Path, str]                 # (day, its recording, its database's name)


def in_day_order(finished: dict[int, Any]) -> list[Any]:
    """Days heard in the order they finished ({index in the plan: run}), in the plan's."""
    return [finished[k] for k in sorted(finished)]


async def run_days_in_processes(jobs: int, days: Sequence[DayJob], *, server_dsn: str,
                                template: str, fleet: Sequence[Settings],
                                start: dtime | None, options: dict[str, Any],
                                on_done: Callable[[int, Any], None]) -> list[Any]:
    """Run ``days`` in ``jobs`` processes; ``on_done(index, run)`` hears of each day as it
    finishes (in the order they finish). Returns the ``DayRun``s in the order of ``days``.
    The first day to fail cancels the days not yet started and its error is raised."""
    loop = asyncio.get_running_loop()
    runs: dict[int, Any] = {}
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_child_start,
                               mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = {loop.run_in_executor(pool, _run_day, server_dsn, name, template, folder,
                                        list(fleet), start, options): k
                   for k, (_, folder, name) in enumerate(days)}
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in sorted(done, key=pending.__getitem__):
                k = pending.pop(future)
                runs[k] = future.result()               # a day's error ends the backtest
                on_done(k, runs[k])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return in_day_order(runs)
