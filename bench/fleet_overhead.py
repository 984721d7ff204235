"""Where a fleet backtest's wall time goes outside its days' own replay (issue 21): each
piece of ``replay.backtest``'s set-up and tear-down timed on its own, on the embedded
PostgreSQL, with ``bench/replay.py``'s days and workers. Run:
python3 bench/fleet_overhead.py [--workers 10] [--start 14:30] [--repeat 3]

Timed: the template (create, migrations, the replay's schema changes), a day's
``CREATE DATABASE ... TEMPLATE`` (both strategies) and its ``DROP``, a spawned day process
up to its first answer (start-up and imports) and its next, loading a recorded day into
the simulator, and one short fleet-day from ``--start`` whole (database, replay, checks)
beside its own ``wall_s`` (what ``bench/replay.py`` prints per day)."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))

import replay as bench  # noqa: E402 - bench/replay.py: the same days and workers
from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded  # noqa: E402
from tradefleet.replay.backtest import BacktestDatabases  # noqa: E402
from tradefleet.replay.day_database import day_database  # noqa: E402
from tradefleet.replay.day_format import write_day  # noqa: E402
from tradefleet.replay.parallel_days import _child_start  # noqa: E402
from tradefleet.replay.runner import replay_fleet_day  # noqa: E402
from tradefleet.replay.sim_source import record_sim_day  # noqa: E402
from tradefleet.settings import load_settings  # noqa: E402


def _imported() -> float:
    """In a day process: what a day imports, timed there."""
    began = time.perf_counter()
    import tradefleet.replay.day_format  # noqa: F401
    import tradefleet.replay.runner  # noqa: F401
    return time.perf_counter() - began


def _load(folder: Path) -> None:
    from tradefleet.adapters.clock import SEOUL, FrozenClock
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.replay.bar_quotes import with_bar_quotes
    from tradefleet.replay.day_format import read_day
    from tradefleet.replay.recorded_tape import RecordedTape, recorded_universe

    day = with_bar_quotes(read_day(folder))
    universe = recorded_universe(day)
    opens, closes = (t.astimezone(SEOUL) for t in (day.meta.session_open,
                                                   day.meta.session_close))
    SimMarket(0, n_symbols=len(universe.symbols), clock=FrozenClock(opens), day=day.meta.day,
              session_open=opens.time(), session_close=closes.time(),
              recorded=(universe, RecordedTape(day, universe.symbols)))


async def _admin(server: str, sql: str) -> float:
    import asyncpg
    conn = await asyncpg.connect(server)
    try:
        began = time.perf_counter()
        await conn.execute(sql)
        return time.perf_counter() - began
    finally:
        await conn.close()


def _row(name: str, times: list[float]) -> None:
    print(f"{name:<52} median {median(times):6.3f} s  "
          f"({', '.join(f'{t:.3f}' for t in times)})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--start", default="14:30", help="the short day starts at HH:MM")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench.configure_logging(level="ERROR", stream=open("/dev/null", "w"))  # noqa: SIM115, ASYNC230
    with scratch_dir() as tmp_name:
        tmp = Path(tmp_name)
        server = await asyncio.to_thread(start_embedded, tmp / "pgdata", database="bench")
        folder = write_day(tmp / "days", record_sim_day(bench.SEED, 100, bench.DAY))
        times: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            dbs = BacktestDatabases(server)
            began = time.perf_counter()
            await dbs.prepare()
            times.setdefault("template: create, migrate, replay schema", []).append(
                time.perf_counter() - began)
            for k, strategy in enumerate(("WAL_LOG", "FILE_COPY")):
                name = dbs.name(date(2026, 1, 1 + k))
                times.setdefault(f"CREATE DATABASE ... STRATEGY {strategy}", []).append(
                    await _admin(server, f'CREATE DATABASE "{name}" TEMPLATE '
                                         f'"{dbs.template}" STRATEGY {strategy}'))
            for name in list(dbs.created):
                times.setdefault("DROP DATABASE ... WITH (FORCE)", []).append(
                    await _admin(server, f'DROP DATABASE "{name}" WITH (FORCE)'))
            dbs.created.clear()
        for _ in range(args.repeat):
            pool = ProcessPoolExecutor(1, initializer=_child_start,
                                       mp_context=multiprocessing.get_context("spawn"))
            began = time.perf_counter()
            inside = pool.submit(_imported).result()
            times.setdefault("day process: spawn + imports, to first answer", []).append(
                time.perf_counter() - began)
            times.setdefault("  of which imports, timed inside", []).append(inside)
            began = time.perf_counter()
            pool.submit(_imported).result()
            times.setdefault("day process: next answer (warm)", []).append(
                time.perf_counter() - began)
            pool.shutdown()
        for _ in range(args.repeat):
            began = time.perf_counter()
            _load(folder)
            times.setdefault("a recorded day into the simulator", []).append(
                time.perf_counter() - began)
        fleet = [load_settings(None, bench._env(5.0, f"bt-{k}"))
                 for k in range(1, args.workers + 1)]
        start = datetime.strptime(args.start, "%H:%M").time()
        for _ in range(args.repeat):
            dbs = BacktestDatabases(server)
            await dbs.prepare()
            began = time.perf_counter()
            async with day_database(server, dbs.template, dbs.name(bench.DAY)) as db:
                run = await replay_fleet_day(folder, db, fleet, start=start)
            whole = time.perf_counter() - began
            times.setdefault(f"day from {args.start}: whole (db, load, replay, checks)",
                             []).append(whole)
            times.setdefault("  its wall_s (as printed per day)", []).append(run.wall_s)
            times.setdefault("  outside wall_s", []).append(whole - run.wall_s)
            await dbs.drop()
        for name, values in times.items():
            _row(name, values)


if __name__ == "__main__":
    asyncio.run(main())
