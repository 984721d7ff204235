"""Replay benchmark (issue 21, "Numbers"): one run, one table. Run: python3 bench/replay.py
[--symbols 100] [--poll 5] [--start 09:00] [--fleet-days 20] [--fleet-workers 10]
[--fleet-start 09:00] [--fleet-jobs N] [--out bench/results/replay]
(starts its own embedded PostgreSQL in a temp dir).

1. One worker-day: the simulator's day (seed 7, 100 symbols, minute bars and a quote every
   10 s) recorded, then the production worker run through it from the open to the close,
   polling every 5 session seconds, twice, each on a fresh database: on the seeded simulator
   itself ("live simulated") and on the recorded day ("replay"), both stepped by
   ``replay.runner``. Speed = session seconds per wall second (goal >= 2,000x); each poll is
   also given in bare round trips (``SELECT 1`` on the same pool, measured in this run).
   The live simulated day polls every time, as a live worker does (the operator's
   controls read at each poll, a pooled connection per statement); the replay skips its
   quiet holds (``replay.quiet_holds``, the default) and answers a worker's scan on the
   step of its previous empty one with it (``replay.quiet_scans``, the default), and is
   run a second time polling and scanning every time ("replay, every poll": the speed
   before those changes, in the same sitting).
2. Parity: the replay's trades against the live simulated day's, field for field.
3. A fleet backtest: ``--fleet-days`` recorded days (seeds 7, 8, ...) x ``--fleet-workers``
   workers x ``--symbols`` symbols through ``replay.backtest.run_backtest`` (a database per
   day), wall time (goal <= 5 min on 2 cores for 20 x 10 x 100 from the open). Smaller
   sizes or a later ``--fleet-start`` are labelled as such, with the full run's wall time
   extrapolated linearly in worker-polls (and marked so). The days run ``--fleet-jobs`` at
   a time, each in a process of its own (``tradefleet backtest --jobs``; default as the
   command's: one per core, at most one per day); CPU is this process's plus its
   finished children's (the embedded PostgreSQL's is not in it).
4. Tuning trials per minute: read from the tuning helper's ``trials_per_minute()`` in
   ``tradefleet.tune.bench`` or ``tradefleet.tuning.bench`` where one exists, else "n/a".

Wall figures depend on the machine's load: the load average is printed with them."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradefleet.adapters.clock import SEOUL, FrozenClock  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.sim.engine import SimMarket  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.replay.backtest import plan_days, run_backtest  # noqa: E402
from tradefleet.replay.day_format import write_day  # noqa: E402
from tradefleet.replay.parallel_days import default_jobs  # noqa: E402
from tradefleet.replay.runner import DayRun, replay_day, run_worker_day  # noqa: E402
from tradefleet.replay.sim_source import record_sim_day  # noqa: E402
from tradefleet.settings import load_settings  # noqa: E402

SEED, DAY = 7, date(2026, 11, 24)
TUNING_HOOKS = ("tradefleet.tune.bench", "tradefleet.tuning.bench")


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended (the day
    processes of ``--fleet-jobs``, reaped when the pool shuts down)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _env(poll: float, worker: str = "w-bench") -> dict[str, str]:
    return {"TRADEFLEET_WORKER_ID": worker, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "10000000",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": str(poll),
            "TRADEFLEET_STRATEGY__PARAMS": json.dumps({"short": 2, "long": 5,
                                                       "breakout_window": 5}),
            "TRADEFLEET_FILTERS__MIN_VOLUME": "0", "TRADEFLEET_FILTERS__MIN_TRADED_VALUE": "0",
            "TRADEFLEET_FILTERS__MAX_SPREAD_TICKS": "50",
            "TRADEFLEET_EXITS__STOP_LOSS_PCT": "0.5", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "0.5",
            "TRADEFLEET_LOCKS__TTL_SECONDS": "900", "TRADEFLEET_LOG_LEVEL": "ERROR"}


async def _database(dsn: str) -> Database:
    db = await Database.connect(dsn, min_size=1, max_size=4, reset_sessions=False)
    async with db.pool.acquire() as conn:
        await migrate(conn)
    return db


async def _round_trip_ms(db: Database, n: int = 500) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await db.pool.fetchval("SELECT 1")
    return 1000 * (time.perf_counter() - began) / n


def tuning_trials_per_minute(data_dir: Path) -> tuple[str, float | None]:
    """The hook's figure over the recorded days of this run (``data_dir``)."""
    for name in TUNING_HOOKS:
        try:
            hook = getattr(importlib.import_module(name), "trials_per_minute", None)
        except ImportError:
            continue
        if hook is not None:
            return name, float(hook(data_dir))
    return "", None


def _parity(live: list[dict], replay: list[dict]) -> tuple[bool, int]:
    """(equal, fields that differ over the trades both have, plus missing trades)."""
    differ = abs(len(live) - len(replay))
    for a, b in zip(live, replay, strict=False):
        differ += sum(a[k] != b[k] for k in a)
    return live == replay, differ


async def main() -> None:  # noqa: PLR0915 - one run, one table
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval, session s")
    parser.add_argument("--start", default="09:00", help="the worker-day starts at HH:MM")
    parser.add_argument("--fleet-days", type=int, default=20)
    parser.add_argument("--fleet-workers", type=int, default=10)
    parser.add_argument("--fleet-start", default="09:00", help="fleet days start at HH:MM")
    parser.add_argument("--fleet-jobs", type=int, default=None,
                        help="days at once, one process each (default: min(cores, days))")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "replay")
    args = parser.parse_args()
    configure_logging(json_output=True, level="ERROR", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    console = Console(record=True)
    fleet_start = datetime.strptime(args.fleet_start, "%H:%M").time()
    start = datetime.strptime(args.start, "%H:%M").time()
    figures: dict[str, object] = {"symbols": args.symbols, "poll_s": args.poll,
                                  "load_before": os.getloadavg()[0]}
    from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded

    with scratch_dir() as tmp_name:
        tmp = Path(tmp_name)
        server = await asyncio.to_thread(start_embedded, tmp / "pgdata", database="bench")
        began = time.perf_counter()
        folder = write_day(tmp / "days", record_sim_day(SEED, args.symbols, DAY))
        figures["record_s"] = time.perf_counter() - began
        runs: dict[str, DayRun] = {}
        rt_ms = 0.0
        for name in ("live simulated", "replay, every poll", "replay"):
            db = await _database(await asyncio.to_thread(
                start_embedded, tmp / "pgdata",
                database=name.replace(" ", "_").replace(",", "")))
            if name == "replay":
                rt_ms = await _round_trip_ms(db)
            try:
                console.print(f"{name}: one worker-day ...", highlight=False)
                cpu = time.process_time()
                if name.startswith("replay"):
                    runs[name] = await replay_day(folder, db, _env(args.poll), start=start,
                                                  quiet_holds=name == "replay",
                                                  quiet_scans=name == "replay")
                else:
                    clock = FrozenClock(datetime.combine(DAY, start, tzinfo=SEOUL))
                    market = SimMarket(SEED, n_symbols=args.symbols, clock=clock)
                    runs[name] = await run_worker_day(market, clock, db, _env(args.poll),
                                                      quiet_holds=False, day_controls=False,
                                                      held_connections=False,
                                                      quiet_scans=False,
                                                      bare_reads=False,
                                                      step_scans=False)
                figures[f"{name} cpu_s"] = time.process_time() - cpu
            finally:
                await db.close()
        # the fleet: days recorded with seeds SEED, SEED+1, ... on the weekdays from DAY
        days, day = [], DAY
        while len(days) < args.fleet_days:
            if day.weekday() < 5:
                days.append(day)
            day += timedelta(days=1)
        for k, d in enumerate(days):
            if d != DAY:
                write_day(tmp / "days", record_sim_day(SEED + k, args.symbols, d))
        from tradefleet.adapters.calendar_cache import krx_calendar

        planned = [p for p in plan_days(tmp / "days", days[0], days[-1], krx_calendar(days[-1]))
                   if p.folder is not None]
        fleet = [load_settings(None, _env(args.poll, f"bt-{k}"))
                 for k in range(1, args.fleet_workers + 1)]
        console.print(f"fleet: {len(planned)} day(s) x {len(fleet)} workers ...",
                      highlight=False)
        jobs = args.fleet_jobs or default_jobs(len(planned))
        began, cpu = time.perf_counter(), _cpu_with_children()
        result = await run_backtest(
            planned, fleet, server, start=fleet_start, jobs=jobs,
            on_day=lambda p, r, k, n: console.print(f"  [{k}/{n}] {p.day} {r.wall_s:.1f} s",
                                                    highlight=False))
        fleet_wall = time.perf_counter() - began
        fleet_cpu = _cpu_with_children() - cpu
        console.print("tuning: trials per minute ...", highlight=False)
        hook, trials = tuning_trials_per_minute(tmp / "days")
    figures["load_after"] = os.getloadavg()[0]
    live, replay = runs["live simulated"], runs["replay"]
    same, differ = _parity(live.trades, replay.trades)
    full_polls = int(23_400 // args.poll) - 1           # polls of a whole day, open to close
    worker_polls = sum(r.polls for r in result.runs) * len(fleet)
    full = args.fleet_days == 20 and args.fleet_workers == 10 and args.fleet_start == "09:00" \
        and len(result.runs) == 20
    extrapolated = fleet_wall * (20 * 10 * full_polls) / max(worker_polls, 1)

    table = Table(title=f"replay, {args.symbols} symbols, minute bars + 10 s quotes, polls "
                        f"every {args.poll:g} session s (load avg {figures['load_before']:.1f}"
                        f" -> {figures['load_after']:.1f} on {os.cpu_count()} cores)")
    for col, justify in (("figure", "left"), ("measured", "right"), ("goal", "right")):
        table.add_column(col, justify=justify)
    for name, run in runs.items():
        skipped = f", {run.quiet_skipped:,} quiet holds skipped" if run.quiet_skipped else ""
        table.add_row(f"one worker-day, {name}: session s / wall s",
                      f"{run.speed:,.0f}x ({run.polls:,} polls{skipped}, {run.wall_s:.1f} s "
                      f"wall, {figures[f'{name} cpu_s']:.1f} s CPU)",
                      "≥ 2,000x" if name == "replay" else "")
    table.add_row("  replay: ms per poll / bare round trip",
                  f"{1000 * replay.wall_s / max(replay.polls, 1):.2f} ms = "
                  f"{1000 * replay.wall_s / max(replay.polls, 1) / rt_ms:.0f} x "
                  f"{rt_ms:.3f} ms", "")
    table.add_row("parity: replay's trades vs live simulated (same day, seed)",
                  f"{'identical' if same else 'DIFFER'}: {len(replay.trades)} vs "
                  f"{len(live.trades)} trades, {differ} field(s) differ", "identical")
    every = runs["replay, every poll"]
    table.add_row("  replay's trades vs replay polling every time",
                  "identical" if every.trades == replay.trades else "DIFFER", "identical")
    label = (f"{len(result.runs)} days x {len(fleet)} workers x {args.symbols} symbols "
             f"from {args.fleet_start}, {jobs} day(s) at a time: wall")
    table.add_row(label, f"{fleet_wall:,.0f} s ({worker_polls:,} worker-polls, "
                         f"{fleet_cpu:,.0f} s CPU)",
                  "≤ 300 s" if full else "")
    if not full:
        table.add_row("  20 days x 10 workers x 100 symbols from 09:00, extrapolated",
                      f"~{extrapolated:,.0f} s (linear in worker-polls)", "≤ 300 s")
    table.add_row("tuning: trials per minute",
                  f"{trials:,.1f} ({hook})" if trials is not None else "n/a — see tune", "")
    console.print(table)
    figures.update({
        "replay_speed": replay.speed, "replay_polls": replay.polls, "replay_wall_s": replay.wall_s,
        "live_speed": live.speed, "live_wall_s": live.wall_s, "round_trip_ms": rt_ms,
        "replay_quiet_skipped": replay.quiet_skipped,
        "replay_every_poll_speed": every.speed, "replay_every_poll_wall_s": every.wall_s,
        "replay_every_poll_same_trades": every.trades == replay.trades,
        "parity_identical": same, "parity_fields_differing": differ,
        "trades_replay": len(replay.trades), "trades_live": len(live.trades),
        "fleet_days": len(result.runs), "fleet_workers": len(fleet),
        "fleet_start": args.fleet_start, "fleet_wall_s": fleet_wall,
        "fleet_jobs": jobs, "fleet_cpu_s": fleet_cpu,
        "fleet_worker_polls": worker_polls,
        "full_fleet_wall_s_extrapolated": None if full else extrapolated,
        "tuning_trials_per_minute": trials})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".txt").write_text(console.export_text())
    args.out.with_suffix(".json").write_text(json.dumps(figures, indent=1, default=str) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
