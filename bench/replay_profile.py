"""One replayed worker-day, timed, its trades dumped, optionally under cProfile (issue 21):
the A/B and profiling tool behind the README's replay figures. Run:
python3 bench/replay_profile.py [--start 09:00] [--trades OUT.json] [--profile OUT.prof]
[--every-poll] [--workers N]

With ``--workers N`` the database is made as a backtest's day is (its tables UNLOGGED,
``replay.unlogged_days``, where the code has it). The day and the worker are
``bench/replay.py``'s (seed 7, 100 symbols, 5 s polls, its own
embedded PostgreSQL). To compare two versions of the code in one sitting, run this file
with PYTHONPATH set to each version's ``src`` in turn and ``cmp`` the trades files: the
same trades byte for byte is what a speed change must keep. ``--every-poll`` turns the
replay's quiet-hold skip off (``replay.quiet_holds``); code from before that skip has no
such option and polls every time anyway."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import replay as bench  # noqa: E402 - bench/replay.py: the same day and worker
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.replay.day_format import write_day  # noqa: E402
from tradefleet.replay.runner import replay_day, replay_fleet_day  # noqa: E402
from tradefleet.replay.sim_source import record_sim_day  # noqa: E402
from tradefleet.settings import load_settings  # noqa: E402

try:   # as a backtest's template (replay.unlogged_days); code from before it has none
    from tradefleet.replay.unlogged_days import make_unlogged
except ImportError:
    make_unlogged = None
try:   # and without the candidates -> workers key (replay.candidate_owners)
    from tradefleet.replay.candidate_owners import drop_owner_key
except ImportError:
    drop_owner_key = None
try:   # and with only the candidates index a day reads (replay.unread_candidate_indexes)
    from tradefleet.replay.unread_candidate_indexes import drop_unread_indexes
except ImportError:
    drop_unread_indexes = None
try:   # and a day process's collector and pool (replay.day_collector, replay.day_database)
    from tradefleet.replay.day_collector import tune_for_days
    from tradefleet.replay.day_database import DAY_STATEMENT_TIMEOUT_S
except ImportError:
    tune_for_days = DAY_STATEMENT_TIMEOUT_S = None


def server_cpu(pgdata: Path) -> float | None:
    """CPU seconds of the embedded PostgreSQL under ``pgdata`` (postmaster and its live
    backends), or None without psutil: the database's share of a poll, which the
    process's own CPU leaves out."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for proc in psutil.process_iter(["cmdline"]):
        if str(pgdata) in " ".join(proc.info["cmdline"] or ()):
            try:          # the postmaster's reaped children: backends already gone
                t = proc.cpu_times()
                total += t.children_user + t.children_system
            except psutil.Error:
                pass
            for p in [proc, *proc.children(recursive=True)]:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
    return total


async def _dump_candidates(db, out: Path) -> None:  # noqa: ANN001 - a Database
    """The candidate rows and trade notes (see ``--candidates``); prints how many rows
    have a ``scanned_at`` earlier than the row before them (by ``candidate_id``)."""
    rows = await db.pool.fetch(
        "SELECT dense_rank() OVER (ORDER BY f.first) AS scan, c.candidate_id, c.worker_id, "
        "       c.trading_day, c.symbol, c.price, c.volume, c.traded_value, "
        "       c.change_rate::text, c.spread_ticks, c.passed_filters, c.rejected_by::text, "
        "       c.indicators::text, c.signal, c.strategy_name, c.strategy_version, "
        "       c.param_version, "
        "       c.scanned_at < lag(c.scanned_at) OVER (ORDER BY c.candidate_id) AS back "
        "  FROM candidates c JOIN (SELECT scan_id, min(candidate_id) AS first "
        "                          FROM candidates GROUP BY scan_id) f USING (scan_id) "
        " ORDER BY c.candidate_id")
    notes = await db.pool.fetch("SELECT trading_day, worker_id, key, item::text "
                                "FROM daily_tuning_notes ORDER BY note_id")
    out.write_text("".join("\t".join(map(str, list(r)[:-1])) + "\n" for r in rows)  # noqa: ASYNC240
                   + "".join("\t".join(map(str, r)) + "\n" for r in notes))
    print(f"{len(rows)} candidate rows, {rows[-1]['scan'] if rows else 0} scans, "
          f"{sum(1 for r in rows if r['back'])} stamped before the row before them, "
          f"{len(notes)} trade notes")


async def _as_day_database(db: Database, dsn: str) -> Database:
    """``db`` made as a backtest's day database: its template's changes, a day process's
    pool and collector (where the code has them)."""
    if DAY_STATEMENT_TIMEOUT_S is not None:
        await db.close()
        db = await Database.connect(dsn, min_size=1, max_size=4, reset_sessions=False,
                                    command_timeout=None,
                                    server_timeout_s=DAY_STATEMENT_TIMEOUT_S)
        tune_for_days()
    if make_unlogged is not None:
        async with db.pool.acquire() as conn:
            await make_unlogged(conn)
            if drop_owner_key is not None:
                await drop_owner_key(conn)
            if drop_unread_indexes is not None:
                await drop_unread_indexes(conn)
    return db


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", default="09:00", help="the day starts at HH:MM")
    parser.add_argument("--trades", type=Path, help="write the trades here (JSON)")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here")
    parser.add_argument("--events", type=Path,
                        help="write the day's event log here (type, worker, symbol and "
                             "payload in event_id order; no ids or times)")
    parser.add_argument("--candidates", type=Path,
                        help="write the day's candidate rows here (candidate_id order, the "
                             "scan as its number in order, every column as text but "
                             "scan_id and scanned_at) and then its trade notes")
    parser.add_argument("--every-poll", action="store_true", help="no quiet-hold skip")
    parser.add_argument("--workers", type=int, default=1,
                        help="a fleet of N workers on one clock (bt-1..bt-N), as the backtest")
    args = parser.parse_args()
    start = datetime.strptime(args.start, "%H:%M").time()
    configure_logging(json_output=True, level="ERROR", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230
    options = {}
    if "quiet_holds" in inspect.signature(replay_day).parameters:
        options["quiet_holds"] = not args.every_poll
    with scratch_dir() as tmp_name:
        tmp = Path(tmp_name)
        folder = write_day(tmp / "days", record_sim_day(bench.SEED, 100, bench.DAY))
        dsn = await asyncio.to_thread(start_embedded, tmp / "pgdata", database="replay")
        db = await bench._database(dsn)
        if args.workers > 1:
            db = await _as_day_database(db, dsn)
        profile = cProfile.Profile() if args.profile else None
        pg_cpu = server_cpu(tmp / "pgdata")
        cpu = time.process_time()
        if profile is not None:
            profile.enable()
        try:
            if args.workers == 1:
                run = await replay_day(folder, db, bench._env(5.0), start=start, **options)
            else:
                fleet = [load_settings(None, bench._env(5.0, f"bt-{k}"))
                         for k in range(1, args.workers + 1)]
                run = await replay_fleet_day(folder, db, fleet, start=start, **options)
        finally:
            if profile is not None:
                profile.disable()
            cpu = time.process_time() - cpu
            pg_after = server_cpu(tmp / "pgdata")
            pg_cpu = None if pg_cpu is None or pg_after is None else pg_after - pg_cpu
            if args.events:
                rows = await db.pool.fetch("SELECT event_type, worker_id, symbol, payload "
                                           "FROM events ORDER BY event_id")
                args.events.write_text("".join(json.dumps(dict(r), default=str) + "\n"
                                               for r in rows))
            if args.candidates:
                await _dump_candidates(db, args.candidates)
            await db.close()
    pg = f" + {pg_cpu:.1f} s PostgreSQL CPU" if pg_cpu is not None else ""
    print(f"load {os.getloadavg()[0]:.2f}: {args.workers} worker(s), {run.polls} polls, "
          f"{getattr(run, 'quiet_skipped', 0)} quiet holds skipped, "
          f"{getattr(run, 'scans_skipped', 0)} scans skipped, "
          f"{getattr(run, 'scans_shared', 0)} rankings shared, {run.wall_s:.1f} s wall, "
          f"{cpu:.1f} s CPU{pg}, {1000 * run.wall_s / run.polls:.2f} ms wall per poll, "
          f"{run.speed:,.0f}x, {len(run.trades)} trades")
    if args.trades:
        args.trades.write_text(json.dumps(run.trades, default=str, indent=0) + "\n")
    if profile is not None:
        profile.dump_stats(args.profile)


if __name__ == "__main__":
    asyncio.run(main())
