"""A backtest: the production fleet (N workers on one clock, ``runner.run_fleet_day``) over
the recorded days of a date range (issue 21, item 2).

Which days run is the KRX calendar's word plus the data's: a day in the range runs when KRX
had a session and a recording exists with the calendar's hours; every other
weekday in the range is listed as skipped with its reason (no recording, KRX closed, other
hours), and weekends without a recording are left out silently. A bars-only day (CSV
bars) runs on quotes synthesised from its bars (``replay.bar_quotes``; noted in the plan).
Each day runs in a database of its own, cloned from one migrated template per backtest: no
row, lock, sequence or worker lease of one day reaches the next, which keeps a day's trades
independent of the days before it and the whole run deterministic (the same data and
settings give the same rows, byte for byte). The databases are dropped at the end unless
``keep_databases``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import asyncpg

from tradefleet.adapters.postgres.database import database_dsn
from tradefleet.adapters.postgres.migrate import migrate
from tradefleet.domain.calendar import SEOUL, KrxCalendar
from tradefleet.domain.errors import ConfigError
from tradefleet.replay.candidate_owners import drop_owner_key
from tradefleet.replay.day_collector import collector_for_days
from tradefleet.replay.day_database import create_day_database, day_database
from tradefleet.replay.day_format import META_FILE, QUOTES_FILE, DayMeta, day_dir
from tradefleet.replay.parallel_days import MAX_JOBS, DayProcesses, default_jobs
from tradefleet.replay.runner import DayRun, replay_fleet_day
from tradefleet.replay.unlogged_days import make_unlogged
from tradefleet.replay.unread_candidate_indexes import drop_unread_indexes
from tradefleet.settings import Settings

MAX_DAYS = 3660                 # a range longer than ten years is a typo


@dataclass(frozen=True)
class PlannedDay:
    day: date
    folder: Path | None             # None: skipped
    skipped: str = ""               # why, when skipped
    note: str = ""                  # how it runs, when not as recorded


@dataclass
class BacktestResult:
    planned: list[PlannedDay]
    runs: list[DayRun] = field(default_factory=list)


def plan_days(data_dir: Path, first: date, last: date,
              calendar: KrxCalendar) -> list[PlannedDay]:
    """Every day of [first, last] that runs or is worth saying why not, in date order."""
    if last < first:
        raise ConfigError(f"--to: {last} is before --from {first}")
    if (last - first).days > MAX_DAYS:
        raise ConfigError(f"--to: the range {first}..{last} is longer than {MAX_DAYS} days")
    planned = []
    day = first
    while day <= last:
        folder = day_dir(data_dir, day)
        recorded = (folder / META_FILE).is_file()
        session = calendar.session(day)
        if session is None:
            if recorded or day.weekday() < 5:
                planned.append(PlannedDay(day, None, f"KRX closed: {calendar.closed_reason(day)}"))
        elif not recorded:
            planned.append(PlannedDay(day, None, "no recording"))
        else:
            meta = _meta(folder / META_FILE)
            hours = (meta.session_open.astimezone(SEOUL), meta.session_close.astimezone(SEOUL))
            if hours != (session.open, session.close):
                planned.append(PlannedDay(day, None, (
                    f"recorded {hours[0]:%H:%M}-{hours[1]:%H:%M}, KRX's session "
                    f"{session.open:%H:%M}-{session.close:%H:%M}")))
            elif not (folder / QUOTES_FILE).is_file():
                planned.append(PlannedDay(day, folder, note="bars only: quotes from bars"))
            else:
                planned.append(PlannedDay(day, folder))
        day += timedelta(days=1)
    return planned


def _meta(path: Path) -> DayMeta:
    try:
        return DayMeta.from_json(json.loads(path.read_text()), path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None


class BacktestDatabases:
    """One migrated template per backtest, one clone of it per day."""

    def __init__(self, server_dsn: str, *, keep: bool = False) -> None:
        self.server = server_dsn
        self._prefix = f"tfbt_{uuid.uuid4().hex[:10]}"
        self._keep = keep
        self.created: list[str] = []

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    @property
    def template(self) -> str:
        return f"{self._prefix}_template"

    def name(self, day: date) -> str:
        """The database of ``day``, noted for ``drop`` (which drops it if it exists)."""
        name = f"{self._prefix}_{day:%Y%m%d}"
        self.created.append(name)
        return name

    async def prepare(self) -> None:
        template = self.template
        await self._admin(f'CREATE DATABASE "{template}"')
        self.created.append(template)
        conn = await asyncpg.connect(database_dsn(self.server, template))
        try:
            await migrate(conn)
            await make_unlogged(conn)           # scratch days: see replay.unlogged_days
            await drop_owner_key(conn)          # checked once a day: replay.candidate_owners
            await drop_unread_indexes(conn)     # replay.unread_candidate_indexes
        finally:
            await conn.close()

    @asynccontextmanager
    async def for_day(self, day: date):  # noqa: ANN201 - an async context manager
        async with day_database(self.server, self.template, self.name(day)) as db:
            yield db

    async def create(self, name: str) -> None:
        """A day's database (named by ``name``) from the template, before its day runs."""
        await create_day_database(self.server, self.template, name)

    async def release(self, name: str) -> None:
        """The day on ``name`` has ended: its database is dropped now, unless kept."""
        if not self._keep:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created.remove(name)

    async def drop(self) -> None:
        if self._keep:
            return
        for name in reversed(self.created):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


DayDone = Callable[[PlannedDay, DayRun | None, int, int], None]   # (day, run, k, of n)


async def run_backtest(planned: Sequence[PlannedDay], fleet: Sequence[Settings],
                       server_dsn: str, *, start: dtime | None = None,
                       keep_databases: bool = False, on_day: DayDone | None = None,
                       jobs: int | None = 1, **replay_options: Any) -> BacktestResult:
    """Run the planned days; ``on_day`` hears of each as it ends. ``jobs``: how many days
    run at once, each in a process of its own (``replay.parallel_days``; None: one per
    core, at most one per day). The result holds the days in date order for any ``jobs``;
    ``on_day`` hears them in the order they end (with ``progress``, which reports within
    a day, heard only when one process runs them all)."""
    result = BacktestResult(list(planned))
    runnable = [p for p in planned if p.folder is not None]
    jobs = default_jobs(len(runnable)) if jobs is None else jobs
    if not 1 <= jobs <= MAX_JOBS:
        raise ConfigError(f"--jobs: must be between 1 and {MAX_JOBS}, got {jobs}")
    databases = BacktestDatabases(server_dsn, keep=keep_databases)
    # the day processes start up while the template is built (replay.parallel_days)
    processes = None if jobs == 1 or len(runnable) <= 1 else \
        DayProcesses(min(jobs, len(runnable)))
    try:
        await databases.prepare()
        if processes is None:
            with collector_for_days():
                for k, p in enumerate(runnable, 1):
                    assert p.folder is not None
                    async with databases.for_day(p.day) as db:
                        run = await replay_fleet_day(p.folder, db, fleet, start=start,
                                                     **replay_options)
                    result.runs.append(run)
                    if on_day is not None:
                        on_day(p, run, k, len(runnable))
        else:
            result.runs = await _in_processes(processes, runnable, databases, fleet, start,
                                              on_day, replay_options)
    finally:
        try:
            if processes is not None:
                processes.shutdown()
        finally:
            await databases.drop()
    return result


async def _in_processes(processes: DayProcesses, runnable: Sequence[PlannedDay],
                        databases: BacktestDatabases, fleet: Sequence[Settings],
                        start: dtime | None, on_day: DayDone | None,
                        options: dict[str, Any]) -> list[DayRun]:
    options = {k: v for k, v in options.items() if k != "progress"}   # not across processes
    finished = 0

    def done(k: int, run: DayRun) -> None:
        nonlocal finished
        finished += 1
        if on_day is not None:
            on_day(runnable[k], run, finished, len(runnable))

    days = [(p.day, p.folder, databases.name(p.day)) for p in runnable]
    return await processes.run(days, databases, fleet=fleet, start=start, options=options,
                               on_done=done)
