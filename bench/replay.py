"""Replay benchmark (issue 21: "Numbers"), first figures. Run: python3 bench/replay.py
[--symbols 100] [--start 09:00] [--poll 5] (a full day: about three minutes on 2 busy cores;
starts its own embedded PostgreSQL in a temp dir).

Records one simulated day from the exchange simulator (a quote every 10 s), then runs the
production worker through that day twice, each on its own database: on the seeded simulator
itself ("live simulated") and on the recorded day ("replay"), both stepped by
``replay.runner`` (the clock jumps from poll to poll). Prints session seconds per wall second
(goal: >= 2,000x), milliseconds per poll, and whether the replay's trades equal the live
simulated day's (parity). Worker logs go to ERROR (a replay does not print every scan)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradefleet.adapters.clock import SEOUL, FrozenClock  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.sim.engine import SimMarket  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.replay.day_format import write_day  # noqa: E402
from tradefleet.replay.runner import DayRun, replay_day, run_worker_day  # noqa: E402
from tradefleet.replay.sim_source import record_sim_day  # noqa: E402

SEED, DAY = 7, date(2026, 11, 24)


def _env(poll: float) -> dict[str, str]:
    return {"TRADEFLEET_WORKER_ID": "w-bench", "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "10000000",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": str(poll),
            "TRADEFLEET_STRATEGY__PARAMS": json.dumps({"short": 2, "long": 5,
                                                       "breakout_window": 5}),
            "TRADEFLEET_FILTERS__MIN_VOLUME": "0", "TRADEFLEET_FILTERS__MIN_TRADED_VALUE": "0",
            "TRADEFLEET_FILTERS__MAX_SPREAD_TICKS": "50",
            "TRADEFLEET_EXITS__STOP_LOSS_PCT": "0.5", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "0.5",
            "TRADEFLEET_LOCKS__TTL_SECONDS": "900", "TRADEFLEET_LOG_LEVEL": "ERROR"}


async def _database(tmp: Path, name: str) -> Database:
    from tradefleet.adapters.postgres.embedded import start_embedded

    dsn = await asyncio.to_thread(start_embedded, tmp / "pgdata", database=name)
    db = await Database.connect(dsn, min_size=1, max_size=4, reset_sessions=False)
    async with db.pool.acquire() as conn:
        await migrate(conn)
    return db


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--start", default="09:00", help="session time the runs start at")
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval, session s")
    args = parser.parse_args()
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - once, at start-up
    configure_logging(json_output=True, level="ERROR", stream=devnull)
    console = Console()
    start = datetime.strptime(args.start, "%H:%M").time()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        began = time.perf_counter()
        folder = write_day(tmp / "days", record_sim_day(SEED, args.symbols, DAY))
        record_s = time.perf_counter() - began
        runs: dict[str, DayRun] = {}
        for name in ("live simulated", "replay"):
            db = await _database(tmp, name.replace(" ", "_"))
            try:
                if name == "replay":
                    runs[name] = await replay_day(folder, db, _env(args.poll), start=start)
                else:
                    clock = FrozenClock(datetime.combine(DAY, start, tzinfo=SEOUL))
                    market = SimMarket(SEED, n_symbols=args.symbols, clock=clock)
                    runs[name] = await run_worker_day(market, clock, db, _env(args.poll))
            finally:
                await db.close()
    table = Table(title=f"one worker-day, {args.symbols} symbols, polls every {args.poll:g} "
                        f"session s from {args.start} (day recorded in {record_s:.1f} s)")
    for col in ("run", "polls", "session s", "wall s", "session s / wall s", "ms / poll",
                "trades"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for name, run in runs.items():
        table.add_row(name, f"{run.polls:,}", f"{run.session_s:,.0f}", f"{run.wall_s:.1f}",
                      f"{run.speed:,.0f}x", f"{1000 * run.wall_s / max(run.polls, 1):.1f}",
                      str(len(run.trades)))
    console.print(table)
    same = runs["replay"].trades == runs["live simulated"].trades
    console.print(f"parity (replay's trades == live simulated day's): "
                  f"{'yes' if same else 'NO'}; goal 2,000x: "
                  f"{runs['replay'].speed / 2000:.0%} of it")


if __name__ == "__main__":
    asyncio.run(main())
