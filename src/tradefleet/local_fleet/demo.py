"""``tradefleet demo``: a whole simulated KRX session for N worker processes on one machine.

Embedded Postgres (a fresh ``tradefleet_demo`` database each run) → the KIS-dialect exchange
simulator → N ``tradefleet worker`` processes in ``sim`` mode pointed at it, all on one shared
simulated clock → a live dashboard → the daily summary and the end-of-day invariants.

The shared clock is *held* two simulated minutes before the open until every worker has
registered (they then wait for the open), so however long the fleet takes to start, the
compressed day is not eaten by start-up: every worker sees the whole session.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.live import Live

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.adapters.clock import SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore
from tradefleet.adapters.postgres.fleet_view import fetch_fleet_view, fleet_invariants
from tradefleet.adapters.postgres.lock_history import find_double_holds
from tradefleet.adapters.postgres.migrate import migrate
from tradefleet.adapters.postgres.report_queries import fetch_daily_report
from tradefleet.adapters.postgres.session_clock_store import save_session_clock
from tradefleet.adapters.report.tables import summary_table, trades_table
from tradefleet.adapters.sim.exchange.books_client import fetch_books
from tradefleet.adapters.sim.universe import build_universe
from tradefleet.domain.calendar import SEOUL, TradingSession
from tradefleet.local_fleet.books_check import BooksVerdict, compare_books
from tradefleet.local_fleet.dashboard import SessionProgress, feed_line, render
from tradefleet.local_fleet.demo_db import fresh_demo_database
from tradefleet.local_fleet.demo_record import check_record_target, record_demo_day
from tradefleet.local_fleet.feed_marks import FeedMarks
from tradefleet.local_fleet.pace import PacePolicy, SessionPacer, start_speed
from tradefleet.local_fleet.processes import ProcessGroup, compressed_scan_max_age, free_port


@dataclass(frozen=True)
class DemoOptions:
    workers: int = 3
    speed: float = 600.0
    seed: int = 7
    symbols: int = 60
    capital_limit: int = 5_000_000
    poll_interval: int = 30
    state_dir: Path | None = None
    live: bool = True
    lag_limit_minutes: float = 5.0   # session minutes one poll may last (the pace's rule)
    min_speed: float = 10.0
    feed: bool = False               # the exchange's WebSocket feed, and exits on the tick
    record: Path | None = None       # leave the day behind as a recorded day here
    strategy: str | None = None      # the workers' strategy (default: the settings')
    strategy_path: Path | None = None  # ... from the user's own file or package
    # the session clock starts at this KST time of the day instead of just before the open
    # (a short session: the end of the day only)
    start_at: dtime | None = None
    console: bool = False            # serve the fleet console (tradefleet/console) beside it
    console_port: int = 8710


@dataclass(frozen=True)
class DemoOutcome:
    """What a demo day came to (the exit code, and the figures bench/scale.py tabulates)."""

    exit_code: int
    workers: int
    trades: int = 0
    held_shares: int = 0
    start_speed: float = 0.0
    end_speed: float = 0.0
    lowest_speed: float = 0.0
    max_poll_lag_s: float = 0.0          # any poll, any time (session seconds)
    settled_poll_lag_s: float = 0.0      # since the last speed change
    kept_up: bool = True
    scans_computed: int = 0
    scans_shared: int = 0
    scan_cpu_s_per_worker: float = 0.0
    wall_s: float = 0.0


READY_TIMEOUT_S = 300.0     # a fleet that has not registered by then starts anyway
WORKER_DB_POOL = 4          # connections per worker process (commands/worker.py)


def demo_session(today: date | None = None, *, cache_dir: Path | None = None) -> TradingSession:
    """The latest KRX session on or before today (the demo replays a real calendar day).
    Reading it also builds the calendar cache once, before any child process needs it."""
    day = today or datetime.now(SEOUL).date()
    calendar = krx_calendar(day, cache_dir=cache_dir)
    for _ in range(30):
        session = calendar.session(day)
        if session is not None:
            return session
        day -= timedelta(days=1)
    raise RuntimeError("no KRX session found in the last 30 days")


async def _wait_http(url: str, within: float) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    if resp.status < 500:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not come up within {within:.0f}s")
            await asyncio.sleep(0.1)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _stop_on_signals() -> Iterator[list[signal.Signals]]:
    """Ctrl-C, ``kill`` or a closed terminal cancel the supervisor, whose ``finally`` stops
    every child: the children run in their own sessions, so without this a SIGTERM to the
    supervisor alone would leave them running."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        if not received:
            received.append(sig)
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield received
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def _exchange_verdict(db: Database, base_url: str) -> BooksVerdict:
    """The exchange's own books (holdings, every execution) against our rows."""
    async with aiohttp.ClientSession() as http:
        return await compare_books(db, await fetch_books(base_url, http))


async def run_demo(opts: DemoOptions, console: Console | None = None) -> int:
    """The demo's exit code: 0 for a clean day, 1 if an invariant failed or the fleet could
    not keep up with the session clock, 128 + the signal number when stopped by a signal
    (after every child has been stopped)."""
    return (await run_demo_outcome(opts, console)).exit_code


async def run_demo_outcome(opts: DemoOptions, console: Console | None = None) -> DemoOutcome:
    console = console or Console()
    with _stop_on_signals() as received:
        try:
            return await _run_demo(opts, console)
        except asyncio.CancelledError:
            if not received:
                raise
            console.print(f"[yellow]stopped by {received[0].name}: every process of the fleet "
                          "was terminated[/yellow]")
            return DemoOutcome(128 + int(received[0]), opts.workers)


async def _wait_ready(db: Database, group: ProcessGroup, worker_ids: list[str],
                      within: float) -> int:
    """Until every worker has registered (WorkerStartedEvent) or one of them has exited;
    the number registered."""
    deadline = time.monotonic() + within
    while True:
        ready = await db.pool.fetchval(
            "SELECT count(DISTINCT worker_id) FROM events "
            "WHERE event_type = 'WorkerStartedEvent' AND worker_id = ANY($1)", worker_ids)
        exited = any(c.returncode is not None for c in group.children
                     if c.name in worker_ids)
        if ready == len(worker_ids) or exited or time.monotonic() > deadline:
            return int(ready)
        await asyncio.sleep(0.1)


async def _scan_figures(db: Database, worker_ids: list[str]) -> tuple[int, int, float]:
    """Scans computed and read shared, and the CPU seconds per worker they cost."""
    row = await db.pool.fetchrow(
        """SELECT count(*) FILTER (WHERE NOT coalesce((payload->>'shared')::bool, false)) AS own,
                  count(*) FILTER (WHERE (payload->>'shared')::bool) AS shared,
                  coalesce(sum((payload->>'cpu_ms')::float8), 0) / 1000 AS cpu_s
             FROM events WHERE event_type = 'CandidateScannedEvent' AND worker_id = ANY($1)""",
        worker_ids)
    return int(row["own"]), int(row["shared"]), float(row["cpu_s"]) / max(1, len(worker_ids))


def _clock_start(session: TradingSession, start_at: dtime | None) -> datetime:
    """Two simulated minutes before the open, or the asked time of the day if later."""
    at = session.open - timedelta(minutes=2)
    if start_at is not None:
        at = max(at, datetime.combine(session.day, start_at, tzinfo=SEOUL))
    return at


async def _run_demo(opts: DemoOptions, console: Console) -> DemoOutcome:
    began = time.monotonic()
    policy = PacePolicy(opts.lag_limit_minutes * 60, opts.min_speed)
    speed = start_speed(opts.speed, opts.workers, policy=policy)
    state = {"TRADEFLEET_STATE_DIR": str(opts.state_dir)} if opts.state_dir else {}
    session = demo_session(cache_dir=opts.state_dir / "calendar" if opts.state_dir else None)
    if opts.record is not None:
        check_record_target(opts.record, session)     # before anything starts
    dsn, log_dir = await asyncio.to_thread(
        fresh_demo_database, opts.state_dir,
        connections=max(100, opts.workers * WORKER_DB_POOL + 30))
    db = await Database.connect(dsn, min_size=1, max_size=4)
    async with db.pool.acquire() as conn:
        await migrate(conn)
    # the shared clock stands two simulated minutes before the open until the fleet is ready
    log_dir.mkdir(parents=True, exist_ok=True)
    start_file = log_dir / "clock-start"
    start_file.unlink(missing_ok=True)                # a previous run's start
    clock_start = _clock_start(session, opts.start_at)
    clock = SimClock.held(clock_start, speed, start_file)
    port = free_port()
    group = ProcessGroup(log_dir)
    common = {"TRADEFLEET_SIM_CLOCK": clock.to_env(), "TRADEFLEET_DB__DSN": dsn,
              "TRADEFLEET_MODE": "sim", "PYTHONUNBUFFERED": "1", **state}
    worker_ids = [f"w{i + 1}" for i in range(opts.workers)]
    universe = ",".join(build_universe(opts.seed, opts.symbols).symbols)
    outcome = DemoOutcome(1, opts.workers, start_speed=speed)
    console_server = None
    try:
        if opts.console:
            from tradefleet.local_fleet.demo_console import start_demo_console

            console_server = await start_demo_console(dsn, log_dir, opts.console_port)
            console.print(f"fleet console: {console_server.server.url} (to act, sign in with "
                          f"the token in {console_server.token_file})")
        # The session is compressed `speed` times, so the broker's per-second budget is scaled
        # with it (capped): the workers and the simulator enforce the same limit.
        # (the asked speed's: a slower start speed must not also shrink the fleet's budget)
        rate = str(min(1000, max(20, int(20 * max(speed, opts.speed) / 20))))
        ws_port = free_port() if opts.feed else None
        feed_args = ["--ws-port", str(ws_port), "--hts-id", "demo"] if ws_port else []
        feed_env = {"TRADEFLEET_FEED__ENABLED": "true",
                    "TRADEFLEET_FEED__WS_URL": f"ws://127.0.0.1:{ws_port}",
                    "TRADEFLEET_FEED__HTS_ID": "demo"} if ws_port else {}
        group.start("exchange", ["exchange", "--port", str(port), "--seed", str(opts.seed),
                                 "--symbols", str(opts.symbols), "--rate-limit", rate,
                                 *feed_args], common)
        await _wait_http(f"http://127.0.0.1:{port}/_admin/health", 60)
        for wid in worker_ids:
            group.start(wid, ["worker"], {
                **common, "TRADEFLEET_WORKER_ID": wid,
                "TRADEFLEET_BROKER__BASE_URL": f"http://127.0.0.1:{port}",
                "TRADEFLEET_RISK__CAPITAL_LIMIT": str(opts.capital_limit),
                "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": str(opts.capital_limit // 5),
                "TRADEFLEET_POLL_INTERVAL_SECONDS": str(opts.poll_interval),
                "TRADEFLEET_UNIVERSE": universe, "TRADEFLEET_LOG_FORMAT": "json",
                "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": rate,
                "TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS": compressed_scan_max_age(opts.speed),
                **feed_env, **_strategy_env(opts)})
        started = time.monotonic()
        ready = await _wait_ready(db, group, worker_ids, READY_TIMEOUT_S)
        clock.release()
        await _record_clock(db, session.day, clock)   # reports plot the session's KST clock
        slowed = "" if speed == opts.speed else (
            f", {speed:g}x for {opts.workers} workers on {os.cpu_count()} cores "
            f"(asked {opts.speed:g}x)")
        console.print(f"{ready} of {len(worker_ids)} workers ready in "
                      f"{time.monotonic() - started:.1f} s; session clock started "
                      f"({session.day}, {session.open:%H:%M}-{session.close:%H:%M}{slowed}"
                      f"{f', from {clock_start:%H:%M}' if opts.start_at else ''}); "
                      f"a poll may last {opts.lag_limit_minutes:g} session minutes")
        progress = SessionProgress(session.open, session.close)
        pacer = SessionPacer(db, clock, policy, max_speed=speed)
        leases = PostgresFeedLeaseStore(db)
        marks = FeedMarks()
        with Live(console=console, refresh_per_second=4, transient=False,
                  auto_refresh=opts.live) as live:
            while True:
                alive = {c.name: c.returncode is None for c in group.children}
                rows = await fetch_fleet_view(db, session.day, worker_ids)
                progress.update(clock.now())
                feed = feed_line(await leases.live_holder()) if opts.feed else None
                worker_marks = marks.read({c.name.split(".")[0]: c.log_path
                                           for c in group.children if c.name in worker_ids}
                                          ) if opts.feed else None
                live.update(render(progress, rows, alive, feed, worker_marks))
                if not any(alive[w] for w in worker_ids):
                    break
                change = await pacer.check()
                if change is not None:
                    await _record_clock(db, session.day, clock)
                    live.console.print(
                        f"{change.session_at:%H:%M} poll lag {change.lag_s / 60:.1f} session "
                        f"minutes: session clock {change.from_speed:.0f}x -> "
                        f"{change.to_speed:.0f}x")
                left = (session.close - clock.now()).total_seconds() / clock.speed
                if left < -90:            # 90 real seconds past the close
                    console.print("[red]workers did not finish the session in time[/red]")
                    break
                await asyncio.sleep(0.25)
        console.print(pacer.verdict() if pacer.kept_up
                      else f"[red]{pacer.verdict()}[/red]")
        failed = [c for c in group.children if c.name in worker_ids and c.returncode != 0]
        for child in failed:
            console.print(f"[red]{child.name} exited with {child.returncode}[/red]; log tail:")
            console.print(group.tail(child), markup=False)
        report = await fetch_daily_report(db, session.day)
        console.print(summary_table(report))
        console.print(trades_table(report, limit=15))
        invariants = await fleet_invariants(db, session.day)
        doubles, acquisitions = await find_double_holds(db)
        verdict = await _exchange_verdict(db, f"http://127.0.0.1:{port}")
        console.print(
            f"exchange books: {verdict.executions} executions, "
            f"{verdict.held_shares} shares still held {verdict.holdings or ''}, "
            f"{verdict.executions_without_fills} executions without matching fills rows "
            f"{verdict.unrecorded or ''}{verdict.mismatched or ''}")
        if opts.feed:
            console.print(f"feed: {_exits_on_ticks(group, worker_ids)} exits decided on a "
                          "tick (the rest on the poll)")
        console.print(
            f"end of day: open positions {invariants['open_positions']}, locks "
            f"{invariants['locks']}, open orders {invariants['open_orders']}; "
            f"{acquisitions} lock acquisitions replayed, {len(doubles)} double holds. "
            f"Logs: {log_dir}")
        clean = (not failed and not doubles and verdict.clean and pacer.kept_up
                 and invariants["open_positions"] == 0
                 and invariants["locks"] == 0 and invariants["workers_holding"] == 0
                 and len(report.summaries) == len(worker_ids))
        if opts.record is not None:
            path = await asyncio.to_thread(record_demo_day, opts.record, session,
                                           seed=opts.seed, symbols=opts.symbols)
            console.print(f"recorded day: {path} (tradefleet backtest --data {opts.record} "
                          f"--from {session.day})")
        own, shared, cpu = await _scan_figures(db, worker_ids)
        outcome = DemoOutcome(
            0 if clean else 1, opts.workers, trades=report.total_trades,
            held_shares=verdict.held_shares, start_speed=speed, end_speed=clock.speed,
            lowest_speed=min([speed, *(c.to_speed for c in pacer.changes)]),
            max_poll_lag_s=pacer.max_lag_s, settled_poll_lag_s=pacer.settled_max_lag_s,
            kept_up=pacer.kept_up, scans_computed=own, scans_shared=shared,
            scan_cpu_s_per_worker=cpu, wall_s=time.monotonic() - began)
    finally:
        group.stop_all(first=worker_ids)
        if console_server is not None:
            await console_server.stop()
        await db.close()
    return outcome


def _strategy_env(opts: DemoOptions) -> dict[str, str]:
    env = {"TRADEFLEET_STRATEGY__NAME": opts.strategy} if opts.strategy else {}
    if opts.strategy_path is not None:
        env["TRADEFLEET_STRATEGY__PATH"] = str(opts.strategy_path.absolute())
    return env


def _exits_on_ticks(group: ProcessGroup, worker_ids: list[str]) -> int:
    """Exits the workers decided on a tick (``worker/tick_exits.py``), from their logs."""
    said = '"exit condition met on the tick"'
    return sum(c.log_path.read_text(errors="replace").count(said)
               for c in group.children if c.name in worker_ids and c.log_path.exists())


async def _record_clock(db: Database, day: date, clock: SimClock) -> None:
    """The session clock as it ran (with every change of speed), without its start file."""
    await save_session_clock(db, day, SimClock(clock.sim_start, clock.base_speed,
                                               clock.real_start, segments=clock.segments))
