"""Worker start-up benchmark. Run: python3 bench/startup.py [N ...]   (default: 1 3 20)

Start-up is recovery: a worker restarted mid-session must be scanning again quickly. For each
N, N ``tradefleet worker`` processes are started at once against the KIS-dialect exchange
simulator (``tradefleet exchange``, its own process) and a real PostgreSQL (TRADEFLEET_BENCH_DSN,
else embedded in a temp dir), on a shared simulated clock inside a regular session. Measured
on the database clock: from each process's spawn to its first finished scan (its first
CandidateScannedEvent) and to its SCAN transition. The same run also times N bare
``python -c pass`` processes started at once, and every figure is shown against that.

The first worker runs on an empty state dir and builds the calendar cache (once per
exchange_calendars version); its row is shown apart. Target: p50 start-up to first scan
under 1 s when a few workers start together (N=3). With N far above the core count the
figure is bounded by CPU (about N x one start-up / cores)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tradefleet.adapters.clock import SEOUL, SimClock  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.sim.universe import build_universe  # noqa: E402

DAY = date(2026, 11, 24)             # a regular KRX session (09:00-15:30)
SEED, SYMBOLS = 7, 60
TIMEOUT_S = 240.0
BARE = [sys.executable, "-c", "pass"]
RUNS = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")}
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare_starts(n: int) -> list[float]:
    """Seconds from spawn to exit of ``n`` bare interpreters started at once."""
    started = [(time.monotonic(), subprocess.Popen(BARE, env=child_env({})))  # noqa: S603
               for _ in range(n)]
    out = []
    for t0, proc in started:
        proc.wait()
        out.append(time.monotonic() - t0)
    return out


async def db_offset(db: Database) -> float:
    """database clock minus this process's ``time.time()`` (same host: ~0, but measured)."""
    t0 = time.time()
    db_now: datetime = await db.pool.fetchval("SELECT clock_timestamp()")
    t1 = time.time()
    return db_now.timestamp() - (t0 + t1) / 2


async def first_times(db: Database, ids: list[str]) -> dict[str, dict[str, float]]:
    rows = await db.pool.fetch(
        """SELECT worker_id,
                  min(occurred_at) FILTER (WHERE event_type = 'CandidateScannedEvent') AS scan,
                  min(occurred_at) FILTER (WHERE event_type = 'StateTransitionedEvent'
                                           AND payload->>'to_status' = 'SCAN') AS ready
             FROM events WHERE worker_id = ANY($1) GROUP BY worker_id""", ids)
    return {r["worker_id"]: {k: r[k].timestamp() for k in ("scan", "ready") if r[k]}
            for r in rows}


def spawn_workers(ids: list[str], base_url: str, clock_env: str, log_dir: Path,
                  offset: float) -> tuple[dict[str, float], list[subprocess.Popen]]:
    """Start one ``tradefleet worker`` per id, back to back; (spawn time on the DB clock)."""
    universe = ",".join(build_universe(SEED, SYMBOLS).symbols)
    spawned: dict[str, float] = {}
    procs: list[subprocess.Popen] = []
    for wid in ids:
        env = child_env({
            "TRADEFLEET_SIM_CLOCK": clock_env, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_WORKER_ID": wid, "TRADEFLEET_DB__DSN": os.environ["BENCH_DSN"],
            "TRADEFLEET_BROKER__BASE_URL": base_url, "TRADEFLEET_UNIVERSE": universe,
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": "30", "TRADEFLEET_LOG_FORMAT": "json",
            "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": "1000",
            "TRADEFLEET_STATE_DIR": str(log_dir.parent / "state")})
        log = open(log_dir / f"{wid}.log", "wb")  # noqa: SIM115 - the child's for its life
        spawned[wid] = time.time() + offset
        procs.append(subprocess.Popen(  # noqa: S603 - our own CLI, argv list
            [sys.executable, "-m", "tradefleet.cli", "worker"], env=env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
        log.close()
    return spawned, procs


def start_exchange(port: int, clock_env: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own CLI, argv list
        [sys.executable, "-m", "tradefleet.cli", "exchange", "--port", str(port), "--seed",
         str(SEED), "--symbols", str(SYMBOLS), "--rate-limit", "1000"],
        env=child_env({"TRADEFLEET_SIM_CLOCK": clock_env}), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


async def run_workers(db: Database, n: int, base_url: str, clock_env: str,
                      log_dir: Path) -> tuple[list[float], list[float]]:
    """(start-up to first scan, start-up to SCAN) in seconds for ``n`` workers at once."""
    run = next(RUNS)
    ids = [f"r{run}-w{i + 1}" for i in range(n)]
    offset = await db_offset(db)
    spawned, procs = spawn_workers(ids, base_url, clock_env, log_dir, offset)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            seen = await first_times(db, ids)
            if all("scan" in seen.get(w, {}) for w in ids):
                break
            dead = [w for w, p in zip(ids, procs, strict=True) if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"workers {dead or 'all'} did not scan; logs in {log_dir}")
            await asyncio.sleep(0.1)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return ([seen[w]["scan"] - spawned[w] for w in ids],
            [seen[w]["ready"] - spawned[w] for w in ids])


async def wait_http(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("exchange simulator did not come up")


async def bench(dsn: str, sizes: list[int], log_dir: Path) -> list[tuple]:
    db = await Database.connect(dsn, min_size=1, max_size=4)
    async with db.pool.acquire() as conn:
        await migrate(conn)
    os.environ["BENCH_DSN"] = dsn
    # every worker's day is the same regular session; the clock runs at real speed from 10:00
    clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL), 1.0)
    port = free_port()
    exchange = start_exchange(port, clock.to_env())
    rows = []
    try:
        await wait_http(port)
        # one worker first, on an empty state dir: it builds the calendar cache (once per
        # exchange_calendars version), which later start-ups only read; shown apart
        cold, cold_ready = await run_workers(db, 1, f"http://127.0.0.1:{port}",
                                             clock.to_env(), log_dir)
        rows.append(("1 (cold cache)", await asyncio.to_thread(bare_starts, 1), cold,
                     cold_ready))
        for n in sizes:
            bare = await asyncio.to_thread(bare_starts, n)
            scan, ready = await run_workers(db, n, f"http://127.0.0.1:{port}", clock.to_env(),
                                            log_dir)
            rows.append((str(n), bare, scan, ready))
    finally:
        os.killpg(exchange.pid, signal.SIGTERM)
        exchange.wait(15)
        await db.close()
    return rows


def report(rows: list[tuple]) -> None:
    table = Table(title=f"worker start-up to first scan ({os.cpu_count()} cores, seconds)")
    for col in ("workers", "bare p50", "SCAN p50", "scan p50", "scan max",
                "p50 / bare p50", "max x cores / N", "p50 < 1 s"):
        table.add_column(col, justify="right")
    for n, bare, scan, ready in rows:
        p50 = statistics.median(scan)
        table.add_row(n, f"{statistics.median(bare):.3f}",
                      f"{statistics.median(ready):.3f}", f"{p50:.3f}", f"{max(scan):.3f}",
                      f"{p50 / statistics.median(bare):.1f}x",
                      f"{max(scan) * (os.cpu_count() or 1) / len(scan):.2f}",
                      "yes" if p50 < 1.0 else "no")
    Console().print(table)
    Console().print("bare: `python -c pass` started N at once, spawn to exit. SCAN: the "
                    "IDLE->SCAN transition; scan: the first CandidateScannedEvent (DB clock). "
                    "max x cores / N: the start-up's cost per worker when N share the cores.")


async def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1, 3, 20]
    with tempfile.TemporaryDirectory(prefix="tradefleet-startup-") as tmp:
        os.chmod(tmp, 0o777)
        log_dir = Path(tmp) / "logs"
        log_dir.mkdir()
        dsn = os.environ.get("TRADEFLEET_BENCH_DSN")
        if dsn is None:
            from tradefleet.adapters.postgres.embedded import start_embedded

            dsn = await asyncio.to_thread(start_embedded, Path(tmp) / "pgdata")
        try:
            rows = await bench(dsn, sizes, log_dir)
        finally:
            if not os.environ.get("TRADEFLEET_BENCH_DSN"):
                import pgserver

                pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode=None).cleanup()
    report(rows)


if __name__ == "__main__":
    asyncio.run(main())
