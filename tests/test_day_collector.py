"""What a replayed day's process is given for speed (issue 21): Python's collector tuned for
a day (``replay.day_collector``) and its statements guarded by the server instead of a loop
timer each (``replay.day_database``). Neither may change a trade: the processes' trades are
checked against one process's in ``tests/test_parallel_days.py``."""

from __future__ import annotations

import asyncio
import gc
from datetime import date

from tests.fleet_day_rig import AFTERNOON, tight_fleet

from tradefleet.adapters.postgres.database import database_dsn
from tradefleet.replay.backtest import PlannedDay, run_backtest
from tradefleet.replay.day_collector import DAY_THRESHOLDS
from tradefleet.replay.day_database import DAY_STATEMENT_TIMEOUT_S, day_database
from tradefleet.replay.day_format import write_day
from tradefleet.replay.parallel_days import DayProcesses
from tradefleet.replay.sim_source import record_sim_day


def test_a_day_process_collects_as_a_day_wants_with_its_imports_frozen() -> None:
    assert gc.get_threshold() != DAY_THRESHOLDS          # this process: Python's own
    processes = DayProcesses(1)
    try:
        assert processes._pool.submit(gc.get_threshold).result() == DAY_THRESHOLDS
        assert processes._pool.submit(gc.get_freeze_count).result() > 1000
    finally:
        processes.shutdown()


def test_a_one_process_backtest_runs_its_days_so_and_gives_python_its_own_back(
        pg_server_uri: str, tmp_path) -> None:  # noqa: ANN001 - pytest's tmp_path
    day = date(2026, 11, 24)
    planned = [PlannedDay(day, write_day(tmp_path, record_sim_day(11, 20, day)))]
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    during: list[tuple[tuple[int, ...], int]] = []
    asyncio.run(run_backtest(
        planned, tight_fleet(1), pg_server_uri, start=AFTERNOON, jobs=1,
        on_day=lambda p, run, k, n: during.append((gc.get_threshold(),
                                                   gc.get_freeze_count()))))
    assert during and during[0][0] == DAY_THRESHOLDS
    assert during[0][1] > frozen
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)


def test_a_day_database_guards_its_statements_on_the_server_not_with_a_timer_each(
        pg_server_uri: str, pg_dsn: str) -> None:
    name = pg_dsn.split("?")[0].rsplit("/", 1)[1]

    async def settings() -> tuple[str, object]:
        async with day_database(database_dsn(pg_server_uri, name), None, name) as db:
            async with db.pool.acquire() as conn:
                shown = await conn.fetchval("SHOW statement_timeout")
                # asyncpg's per-statement timer: None arms none
                return shown, conn._con._config.command_timeout

    shown, client_timeout = asyncio.run(settings())
    assert shown == f"{round(DAY_STATEMENT_TIMEOUT_S)}s"
    assert client_timeout is None
