"""Worker start-up benchmark.
Run: python3 bench/startup.py [fork|spawn ...] [N ...]   (default: both ways, 3 20 50)

Start-up is recovery: a worker restarted mid-session must be scanning again quickly. For each
N and each way of starting a local fleet's workers, N ``tradefleet worker`` processes are
started at once against the KIS-dialect exchange simulator (``tradefleet exchange``, its own
process) and a real PostgreSQL (TRADEFLEET_BENCH_DSN, else embedded in a temp dir), on a shared
simulated clock inside a regular session, through ``local_fleet.processes.ProcessGroup`` as
the demo and the chaos bench start them:
- spawn: a new interpreter per worker (``python -m tradefleet.cli worker``), as a pod does;
- fork: forked from the fork server that has imported the worker's modules once
  (``local_fleet.forked_start``); the server's own start is a one-off, shown apart.
Measured on the database clock: from each start to the worker's first finished scan (its
first CandidateScannedEvent) and to its SCAN transition. The same run also times N bare
``python -c pass`` processes started at once, and every figure is shown against that.

The first worker runs on an empty state dir and builds the calendar cache (once per
exchange_calendars version); its row is shown apart.

Per worker the bench also reads the process's own accounts from /proc when its first scan is
seen: the CPU it has used (user + system since its fork or exec: a forked child's counters
start at zero, so the server's imports are not in it) and its memory: RSS (counts every
page it maps, shared ones too, so a forked child's RSS includes the server's pages), PSS
(shared pages split between sharers) and USS (its private pages only: what one more worker
costs). Goals (issue 17): start-up CPU <= 0.25 s and RSS <= 60 MB per worker, p50 to first
scan <= 0.5 s with 3 workers. The 1-minute load average is printed with each row: the
machine is shared, and a busy one inflates the wall-clock figures (not the CPU or memory)."""

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
from tradefleet.adapters.postgres.embedded import stop_embedded  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.sim.universe import build_universe  # noqa: E402
from tradefleet.local_fleet.processes import ProcessGroup  # noqa: E402

DAY = date(2026, 11, 24)             # a regular KRX session (09:00-15:30)
SEED, SYMBOLS = 7, 60
TIMEOUT_S = 240.0
BARE = [sys.executable, "-c", "pass"]
RUNS = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compile_sources() -> None:
    """Byte-compile the package, as its installation does (pip, and the image's build), so
    that a worker's start-up is not charged for compiling our sources on every start: an
    environment with PYTHONDONTWRITEBYTECODE (this one, and the image) never caches them."""
    import compileall

    if not compileall.compile_dir(str(ROOT / "src"), quiet=1):
        raise RuntimeError("byte-compiling src failed")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")}
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def process_usage(pid: int) -> tuple[float, float, float, float] | None:
    """(CPU seconds used, RSS MB, PSS MB, USS MB) of a live process, from /proc; None once
    gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()        # after "(comm)": state is fields[0]
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICK      # utime + stime
    uss = _kb_field(rollup, "Private_Clean:") + _kb_field(rollup, "Private_Dirty:")
    return (cpu, _kb_field(status, "VmRSS:") / 1024, _kb_field(rollup, "Pss:") / 1024,
            uss / 1024)


def _kb_field(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.split()[1])
    return float("nan")


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


def start_workers(group: ProcessGroup, ids: list[str], base_url: str, clock_env: str,
                  offset: float) -> dict[str, float]:
    """Start one ``tradefleet worker`` per id, back to back; (start time on the DB clock)."""
    universe = ",".join(build_universe(SEED, SYMBOLS).symbols)
    started: dict[str, float] = {}
    for wid in ids:
        env = child_env({
            "TRADEFLEET_SIM_CLOCK": clock_env, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_WORKER_ID": wid, "TRADEFLEET_DB__DSN": os.environ["BENCH_DSN"],
            "TRADEFLEET_BROKER__BASE_URL": base_url, "TRADEFLEET_UNIVERSE": universe,
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": "30", "TRADEFLEET_LOG_FORMAT": "json",
            "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": "1000",
            "TRADEFLEET_STATE_DIR": str(group.log_dir.parent / "state")})
        started[wid] = time.time() + offset
        group.start(wid, ["worker"], env)
    return started


def start_exchange(port: int, clock_env: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own CLI, argv list
        [sys.executable, "-m", "tradefleet.cli", "exchange", "--port", str(port), "--seed",
         str(SEED), "--symbols", str(SYMBOLS), "--rate-limit", "1000"],
        env=child_env({"TRADEFLEET_SIM_CLOCK": clock_env}), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


async def run_workers(db: Database, group: ProcessGroup, n: int, base_url: str,
                      clock_env: str) -> dict[str, list[float]]:
    """Per worker of ``n`` started at once: seconds to first scan ("scan") and to SCAN
    ("ready"), and at its first scan its CPU seconds ("cpu"), RSS, PSS and USS in MB."""
    run = next(RUNS)
    ids = [f"r{run}-w{i + 1}" for i in range(n)]
    offset = await db_offset(db)
    first = len(group.children)
    started = start_workers(group, ids, base_url, clock_env, offset)
    children = dict(zip(ids, group.children[first:], strict=True))
    usage: dict[str, tuple[float, float, float, float]] = {}
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            seen = await first_times(db, ids)
            for w in ids:       # sampled as soon as the scan is seen (within one poll)
                if w not in usage and "scan" in seen.get(w, {}):
                    sample = process_usage(children[w].pid)
                    if sample is not None:
                        usage[w] = sample
            if all("scan" in seen.get(w, {}) for w in ids):
                break
            dead = [w for w in ids if children[w].returncode is not None]
            if dead or time.monotonic() > deadline:
                tails = "".join(f"\n--- {w} (last lines) ---\n"
                                + group.tail(children[w], 8) for w in dead)
                raise RuntimeError(f"workers {dead or 'all'} did not scan{tails}")
            await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(group.stop_all, 30.0)
        group.children.clear()
    return {"scan": [seen[w]["scan"] - started[w] for w in ids],
            "ready": [seen[w]["ready"] - started[w] for w in ids],
            **{key: [u[i] for u in usage.values()]
               for i, key in enumerate(("cpu", "rss", "pss", "uss"))}}


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


async def bench(dsn: str, modes: list[str], sizes: list[int],
                log_dir: Path) -> tuple[list[tuple], dict[str, float]]:
    compile_sources()
    db = await Database.connect(dsn, min_size=1, max_size=4)
    async with db.pool.acquire() as conn:
        await migrate(conn)
    os.environ["BENCH_DSN"] = dsn
    # every worker's day is the same regular session; the clock runs at real speed from 10:00
    clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL), 1.0)
    port = free_port()
    exchange = start_exchange(port, clock.to_env())
    base_url = f"http://127.0.0.1:{port}"
    rows, server = [], {}
    try:
        await wait_http(port)
        groups = {}
        for mode in modes:
            t0 = time.monotonic()
            groups[mode] = ProcessGroup(log_dir, start_method=mode)
            if mode == "fork":          # the one-off: the server imports the worker's modules
                from tradefleet.local_fleet.forked_start import ensure_fork_server

                usage = process_usage(ensure_fork_server())
                server = {"wall": time.monotonic() - t0, "cpu": usage[0], "rss": usage[1],
                          "pss": usage[2], "uss": usage[3]} if usage else {}
        # one worker first, on an empty state dir: it builds the calendar cache (once per
        # exchange_calendars version), which later start-ups only read; shown apart
        load = os.getloadavg()[0]
        cold = await run_workers(db, groups[modes[0]], 1, base_url, clock.to_env())
        rows.append(("1 (cold cache)", modes[0], await asyncio.to_thread(bare_starts, 1),
                     cold, load))
        for n in sizes:
            bare = await asyncio.to_thread(bare_starts, n)
            for mode in modes:
                load = os.getloadavg()[0]
                measured = await run_workers(db, groups[mode], n, base_url, clock.to_env())
                print(f"  {n} workers ({mode}): p50 to first scan "
                      f"{statistics.median(measured['scan']):.2f} s, CPU/worker p50 "
                      f"{_median(measured['cpu']):.2f} s (load {load:.2f})", flush=True)
                rows.append((str(n), mode, bare, measured, load))
    finally:
        os.killpg(exchange.pid, signal.SIGTERM)
        exchange.wait(15)
        await db.close()
    return rows, server


CPU_GOAL_S, RSS_GOAL_MB, SCAN_P50_GOAL_S = 0.25, 60.0, 0.5


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def report(rows: list[tuple], server: dict[str, float]) -> None:
    table = Table(title=f"worker start-up ({os.cpu_count()} cores; seconds, MB)")
    for col in ("workers", "start", "load 1m", "bare p50", "SCAN p50", "scan p50", "scan max",
                "p50 / bare", "CPU p50", "CPU max", "RSS p50", "PSS p50", "USS p50",
                "CPU goal", "RSS goal", "PSS goal", "p50 goal"):
        table.add_column(col, justify="right")
    for n, mode, bare, m, load in rows:
        p50, cpu = statistics.median(m["scan"]), _median(m["cpu"])
        rss, pss = max(m["rss"], default=float("nan")), max(m["pss"], default=float("nan"))
        table.add_row(n, mode, f"{load:.2f}", f"{statistics.median(bare):.3f}",
                      f"{statistics.median(m['ready']):.3f}", f"{p50:.3f}",
                      f"{max(m['scan']):.3f}", f"{p50 / statistics.median(bare):.1f}x",
                      f"{cpu:.2f}", f"{max(m['cpu'], default=cpu):.2f}",
                      f"{_median(m['rss']):.0f}", f"{_median(m['pss']):.0f}",
                      f"{_median(m['uss']):.0f}", _met(cpu <= CPU_GOAL_S),
                      _met(rss <= RSS_GOAL_MB), _met(pss <= RSS_GOAL_MB),
                      _met(p50 <= SCAN_P50_GOAL_S) if n == "3" else "-")
    console = Console(width=max(170, Console().width))     # the table, unwrapped in a log
    console.print(table)
    if server:
        console.print(
            f"fork server (once per fleet, before the first worker): {server['wall']:.2f} s "
            f"wall to ready, {server['cpu']:.2f} s CPU, RSS {server['rss']:.0f} MB, PSS "
            f"{server['pss']:.0f} MB, USS {server['uss']:.0f} MB.")
    console.print(
        "bare: `python -c pass` started N at once, spawn to exit. SCAN: the IDLE->SCAN "
        "transition; scan: the first CandidateScannedEvent (DB clock). CPU, RSS, PSS, USS: "
        "the worker process's own (/proc) when its first scan is seen; CPU counts from its "
        "fork (fork) or exec (spawn). RSS counts shared pages in full (a forked worker's "
        "include the server's imports); PSS splits them between sharers; USS is private. "
        f"Goals: CPU p50 <= {CPU_GOAL_S} s; RSS max <= {RSS_GOAL_MB:.0f} MB (and the same "
        f"bound on PSS max, the per-worker share); with 3 workers p50 to first scan <= "
        f"{SCAN_P50_GOAL_S} s.")


async def main() -> None:
    modes = [a for a in sys.argv[1:] if a in ("fork", "spawn")] or ["spawn", "fork"]
    try:
        sizes = [int(a) for a in sys.argv[1:] if a not in modes] or [3, 20, 50]
    except ValueError:
        sys.exit(f"usage: {sys.argv[0]} [fork|spawn ...] [N ...]  (worker counts, "
                 "e.g. 3 20 50)")
    if any(n < 1 for n in sizes):
        sys.exit("worker counts: each N must be at least 1")
    with tempfile.TemporaryDirectory(prefix="tradefleet-startup-") as tmp:
        os.chmod(tmp, 0o777)
        log_dir = Path(tmp) / "logs"
        log_dir.mkdir()
        dsn = os.environ.get("TRADEFLEET_BENCH_DSN")
        if dsn is None:
            dsn = await asyncio.to_thread(start_server, Path(tmp) / "pgdata", max(sizes))
        try:
            rows, server = await bench(dsn, modes, sizes, log_dir)
        finally:
            if not os.environ.get("TRADEFLEET_BENCH_DSN"):
                await asyncio.to_thread(stop_embedded, Path(tmp) / "pgdata")
    report(rows, server)


def start_server(data: Path, workers: int) -> str:
    """The embedded server, restarted with room for ``workers`` pools (a worker holds a few
    connections; the default 100 is too few for 50 of them)."""
    import pgserver
    from pgserver._commands import pg_ctl

    from tradefleet.adapters.postgres.embedded import start_embedded

    dsn = start_embedded(data)
    server = pgserver.get_server(data, cleanup_mode=None)
    server.psql(f"ALTER SYSTEM SET max_connections = {max(100, 20 + 6 * workers)};")
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    return dsn


if __name__ == "__main__":
    asyncio.run(main())
