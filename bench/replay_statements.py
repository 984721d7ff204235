"""Where PostgreSQL's time goes in one replayed fleet-day (issue 21, speed): every statement
of the day logged by the server with its duration, then one table of statements (calls,
total ms, mean ms), the costliest first. Run:
python3 bench/replay_statements.py [--workers 10] [--start 09:00] [--top 25] [--analyze]

The embedded server has no ``pg_stat_statements`` (the pgserver wheel ships no contrib
modules), so the figures come from its own log: ``log_min_duration_statement = 0`` turned
on (``ALTER SYSTEM``, reloaded) just before the day and off just after, so the set-up's
statements are left out. A statement's time is the sum of its logged phases (parse, bind,
execute; or the simple protocol's one line), its calls the count of its executes: the
round trips of the day, statement by statement. Logging every statement slows the server
down, so the wall time printed is not a speed figure (``bench/replay_profile.py`` is);
the shares are what this is for. The day and the fleet are ``bench/replay_profile.py``'s
(seed 7, 100 symbols, 5 s polls, workers bt-1..bt-N), on a database made as a
backtest's day is (migrated, then ``replay.unlogged_days.make_unlogged`` and
``replay.candidate_owners.drop_owner_key``, ``replay.unread_candidate_indexes``); ``--analyze``
adds an ANALYZE of it before the day (what a backtest's template would get with one)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import replay as bench  # noqa: E402 - bench/replay.py: the same day and worker
from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.replay.candidate_owners import drop_owner_key  # noqa: E402
from tradefleet.replay.day_format import write_day  # noqa: E402
from tradefleet.replay.runner import replay_fleet_day  # noqa: E402
from tradefleet.replay.sim_source import record_sim_day  # noqa: E402
from tradefleet.replay.unlogged_days import make_unlogged  # noqa: E402
from tradefleet.settings import load_settings  # noqa: E402

try:   # and only the candidates index a day reads (replay.unread_candidate_indexes)
    from tradefleet.replay.unread_candidate_indexes import drop_unread_indexes
except ImportError:   # code from before it
    drop_unread_indexes = None

PREFIX = "@@tfstmt@@ "       # log_line_prefix while measuring: where a log record begins
DURATION = re.compile(r"LOG:  duration: ([0-9.]+) ms  (parse|bind|execute|statement)"
                      r"(?: [^:]*)?: (.*)", re.S)


def statement_table(log: str) -> dict[str, list[float]]:
    """``{statement: [calls, total_ms]}`` from the server log text written while
    measuring (records start with PREFIX; a statement's text may span lines)."""
    found: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for record in log.split(PREFIX)[1:]:
        match = DURATION.search(record)
        if match is None:
            continue
        ms, phase, text = float(match[1]), match[2], " ".join(match[3].split())
        entry = found[text]
        entry[1] += ms
        if phase in ("execute", "statement"):
            entry[0] += 1
    return found


async def _logging(db, on: bool) -> None:  # noqa: ANN001 - a tradefleet Database
    settings = ({"log_min_duration_statement": "0", "log_parameter_max_length": "0",
                 "log_line_prefix": f"'{PREFIX}'"} if on else
                {"log_min_duration_statement": "-1", "log_parameter_max_length": "-1",
                 "log_line_prefix": "'%m [%p] '"})
    async with db.pool.acquire() as conn:
        for name, value in settings.items():
            await conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        await conn.execute("SELECT pg_reload_conf()")
    await asyncio.sleep(0.5)         # the backends take the reload at their next command


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--start", default="09:00", help="the day starts at HH:MM")
    parser.add_argument("--top", type=int, default=25, help="rows of the table")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE before the day")
    args = parser.parse_args()
    start = datetime.strptime(args.start, "%H:%M").time()
    configure_logging(json_output=True, level="ERROR", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    with scratch_dir() as tmp:
        folder = write_day(tmp / "days", record_sim_day(bench.SEED, 100, bench.DAY))
        dsn = await asyncio.to_thread(start_embedded, tmp / "pgdata", database="replay")
        db = await bench._database(dsn)
        async with db.pool.acquire() as conn:
            await make_unlogged(conn)
            await drop_owner_key(conn)
            if drop_unread_indexes is not None:
                await drop_unread_indexes(conn)
            if args.analyze:
                await conn.execute("ANALYZE")
        fleet = [load_settings(None, bench._env(5.0, f"bt-{k}"))
                 for k in range(1, args.workers + 1)]
        log = tmp / "pgdata" / "log"
        await _logging(db, True)
        offset = log.stat().st_size
        began = time.perf_counter()
        try:
            run = await replay_fleet_day(folder, db, fleet, start=start)
        finally:
            wall = time.perf_counter() - began
            await _logging(db, False)
            await db.close()
        with log.open(encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            found = statement_table(f.read())
    calls = sum(c for c, _ in found.values())
    total = sum(ms for _, ms in found.values())
    print(f"load {os.getloadavg()[0]:.2f}: {args.workers} worker(s) from {args.start}, "
          f"{len(run.trades)} trades, {wall:.1f} s wall (logging every statement), "
          f"{int(calls):,} statements, {total / 1000:.1f} s in the server by its log"
          f"{', ANALYZE first' if args.analyze else ''}")
    print(f"{'calls':>8} {'total ms':>10} {'mean ms':>8} {'share':>6}  statement")
    for text, (n, ms) in sorted(found.items(), key=lambda kv: -kv[1][1])[:args.top]:
        print(f"{int(n):>8} {ms:>10.0f} {ms / max(n, 1):>8.3f} {100 * ms / total:>5.1f}%  "
              f"{text[:150]}")


if __name__ == "__main__":
    asyncio.run(main())
