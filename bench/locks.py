"""Lock benchmark. Run: python3 bench/locks.py (starts its own embedded PostgreSQL in a
temp dir; about 15 s).

Prints p50/p99 of acquire+release against a bare ``SELECT 1`` round trip on the same pool
(measured interleaved, so load drift hits both alike), with synchronous and with asynchronous
commit, plus the floor of any write pair (INSERT + DELETE of a lock row, no event). Then 50
workers (tasks, each its own connection) contend for 10 symbols: p99 lock wait and double
holds, checked in-process and by SQL over the lock history (must be 0). Targets: p99
acquire+release <= 10 ms and <= 3x the bare round trip (spec section 4.1 asks <= 100 ms)."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.event_sink import PostgresEventSink  # noqa: E402
from tradefleet.adapters.postgres.lock_store import PostgresLockStore  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.telemetry.logging import configure_logging  # noqa: E402
from tradefleet.services.lock_service import LockService  # noqa: E402

N = 2000

# DB-side check over the lock history: an acquisition of a symbol whose previous lock event
# is also an acquisition means two holders at once. Event ids are taken inside the statement
# that changes the lock, and a new holder can only insert after the release committed, so
# event_id order is the order of holds of one symbol.
_DOUBLE_HOLDS = """
SELECT count(*) FILTER (WHERE event_type = 'LockAcquiredEvent' AND prev = 'LockAcquiredEvent'),
       count(*) FILTER (WHERE event_type = 'LockAcquiredEvent')
  FROM (SELECT event_type,
               lag(event_type) OVER (PARTITION BY symbol ORDER BY event_id) AS prev
          FROM events WHERE event_type IN ('LockAcquiredEvent', 'LockReleasedEvent')) h
"""
CONTENDERS, SYMBOLS, CONTEND_SECONDS = 50, 10, 4.0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def single_worker(dsn: str, durable: bool) -> dict[str, list[float]]:
    """One worker, no contention: the lock cycle, a bare round trip and the floor of any
    write pair (plain INSERT + DELETE of a lock row, no event) on the same pool."""
    db = await Database.connect(dsn, min_size=2, max_size=2, durable_by_default=durable)
    locks = LockService(PostgresLockStore(db), PostgresEventSink(db), ttl_seconds=60)

    async def bare() -> None:
        await db.pool.fetchval("SELECT 1")

    async def cycle() -> None:
        lock = await locks.acquire_lock("005930", "w0")
        await locks.release_lock(lock, "BENCH")

    async def floor() -> None:
        await db.pool.execute(
            """INSERT INTO stock_locks (symbol, worker_id, fencing_token, ttl_seconds)
               VALUES ('999999', 'w0', nextval('fencing_token_seq'), 60)""")
        await db.pool.execute("DELETE FROM stock_locks WHERE symbol = '999999'")

    fns = {"bare": bare, "cycle": cycle, "floor": floor}
    out: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(N + 200):                 # interleaved, so load drift hits all alike
        for name, fn in fns.items():
            t = time.perf_counter()
            await fn()
            if i >= 200:                     # warm-up
                out[name].append((time.perf_counter() - t) * 1000)
    await db.close()
    return out


async def main() -> None:
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - once, at start-up
    configure_logging(json_output=True, level="ERROR", stream=devnull)
    from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded

    with scratch_dir() as tmp:
        dsn = await asyncio.to_thread(start_embedded, Path(tmp) / "pgdata")
        setup = await Database.connect(dsn, min_size=1, max_size=1)
        async with setup.pool.acquire() as conn:
            await migrate(conn)
            for i in range(CONTENDERS):
                await conn.execute(
                    """INSERT INTO workers (worker_id, pid, host, mode, status,
                           lock_ttl_seconds) VALUES ($1, 1, 'bench', 'sim', 'SCAN', 60)""",
                    f"w{i}")
        await setup.close()
        rows = {}
        for durable in (True, False):
            rows[durable] = await single_worker(dsn, durable)
        db = await Database.connect(dsn, min_size=CONTENDERS + 2, max_size=CONTENDERS + 2,
                                    durable_by_default=False)
        locks = LockService(PostgresLockStore(db), PostgresEventSink(db), ttl_seconds=60)

        holders: dict[str, str] = {}
        doubles = 0
        waits: list[float] = []
        deadline = time.monotonic() + CONTEND_SECONDS

        async def contender(wid: str) -> None:
            nonlocal doubles
            rnd = random.Random(wid)
            while time.monotonic() < deadline:
                symbol = f"{rnd.randrange(SYMBOLS):06d}"
                wanted = time.perf_counter()
                while (lock := await locks.acquire_lock(symbol, wid)) is None:
                    if time.monotonic() > deadline:
                        return
                    await asyncio.sleep(0.001)
                waits.append((time.perf_counter() - wanted) * 1000)
                if symbol in holders:
                    doubles += 1
                holders[symbol] = wid
                await asyncio.sleep(0.002)          # "trading" the symbol
                del holders[symbol]
                await locks.release_lock(lock, "BENCH")

        await asyncio.gather(*[contender(f"w{i}") for i in range(CONTENDERS)])
        db_doubles, acquisitions = await db.pool.fetchrow(_DOUBLE_HOLDS)
        await db.close()

    table = Table(title="tradefleet locks (embedded PostgreSQL 16, same pool)")
    for col in ("measure", "p50 ms", "p99 ms", "target"):
        table.add_column(col, justify="right" if col != "measure" else "left")
    for durable, label in ((True, "sync commit"), (False, "async commit, used")):
        r = rows[durable]
        bare_ms, lock_ms, floor_ms = r["bare"], r["cycle"], r["floor"]
        p50_ratio = statistics.median(lock_ms) / statistics.median(bare_ms)
        p99_ratio = pct(lock_ms, 0.99) / pct(bare_ms, 0.99)
        table.add_row(f"({label}) bare SELECT 1", f"{statistics.median(bare_ms):.3f}",
                      f"{pct(bare_ms, 0.99):.3f}", "")
        table.add_row(f"({label}) acquire + release", f"{statistics.median(lock_ms):.3f}",
                      f"{pct(lock_ms, 0.99):.3f}", "p99 <= 10 ms")
        table.add_row(f"({label}) floor: INSERT + DELETE, no event",
                      f"{statistics.median(floor_ms):.3f}", f"{pct(floor_ms, 0.99):.3f}", "")
        table.add_row(f"({label}) ratio cycle / one bare trip", f"{p50_ratio:.2f}x",
                      f"{p99_ratio:.2f}x", "<= 3x")
        table.add_row(f"({label}) ratio per statement (cycle = 2)", f"{p50_ratio / 2:.2f}x",
                      f"{p99_ratio / 2:.2f}x", "")
    table.add_row(f"lock wait, {CONTENDERS} workers / {SYMBOLS} symbols",
                  f"{statistics.median(waits):.2f}", f"{pct(waits, 0.99):.2f}", "p99 < 1000 ms")
    table.add_row("double holds (in-process / DB-side SQL)", f"{doubles}", f"{db_doubles}", "0")
    table.add_row("acquisitions under contention", f"{acquisitions - 2 * (N + 200)}", "",
                  "")
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
