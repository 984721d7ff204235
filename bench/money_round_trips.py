"""Micro A/B of two round-trip folds (issue 21, txn21), in one process, in interleaved
blocks: a money transaction opened as asyncpg's ``conn.transaction()`` then ``SET LOCAL``
(main before txn21) against ``Database.money_transaction``'s one-message BEGIN, and a worker
state move as BEGIN, UPDATE, event, COMMIT against the store's one statement. Prints process
CPU, PostgreSQL CPU and wall per call. Run: python3 bench/money_round_trips.py"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_profile import server_cpu  # noqa: E402 - bench/replay_profile.py
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded  # noqa: E402
from tradefleet.adapters.postgres.event_store import append_events  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore  # noqa: E402
from tradefleet.domain.events import StateTransitionedEvent  # noqa: E402
from tradefleet.domain.states import WorkerStatus  # noqa: E402

N, BLOCKS = 500, 8
_OLD_MOVE = """UPDATE workers SET status = $4,
                      current_symbol = CASE WHEN $4 = 'EXIT' THEN NULL ELSE $5 END,
                      stopped_at = CASE WHEN $4 = 'EXIT' THEN now() END
                WHERE worker_id = $1 AND epoch = $2 AND status = $3 RETURNING true"""


async def main() -> None:
    with scratch_dir() as tmp:
        pgdata = Path(tmp) / "pgdata"
        dsn = await asyncio.to_thread(start_embedded, pgdata, database="mb")
        db = await Database.connect(dsn, min_size=1, max_size=2, durable_by_default=False,
                                    reset_sessions=False)
        async with db.pool.acquire() as conn:
            await migrate(conn)
        store = PostgresWorkerStore(db)
        epoch = await store.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=5)
        state = [WorkerStatus.IDLE]

        async def old_txn() -> None:
            async with db.pool.acquire() as conn, conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = on")
                await conn.fetchval("SELECT 1")

        async def new_txn() -> None:
            async with db.money_transaction() as conn:
                await conn.fetchval("SELECT 1")

        def move() -> tuple[WorkerStatus, WorkerStatus, StateTransitionedEvent]:
            a = state[0]
            b = WorkerStatus.HOLD if a is WorkerStatus.SCAN else WorkerStatus.SCAN
            state[0] = b
            return a, b, StateTransitionedEvent(worker_id="wa", symbol=None, reason="mb",
                                                from_status=a.value, to_status=b.value)

        async def old_move() -> None:
            a, b, event = move()
            async with db.transaction() as conn:
                assert await conn.fetchval(_OLD_MOVE, "wa", epoch, a.value, b.value, None)
                await append_events(conn, [event])

        async def new_move() -> None:
            a, b, event = move()
            assert await store.transition("wa", epoch, a, b, None, event)

        for name, pair in (("money_transaction", (old_txn, new_txn)),
                           ("worker transition", (old_move, new_move))):
            totals = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
            for block in range(BLOCKS):
                for k in ((0, 1) if block % 2 == 0 else (1, 0)):
                    s0, p0, w0 = server_cpu(pgdata), time.process_time(), time.perf_counter()
                    for _ in range(N):
                        await pair[k]()
                    totals[k][0] += time.process_time() - p0
                    totals[k][1] += (server_cpu(pgdata) or 0.0) - (s0 or 0.0)
                    totals[k][2] += time.perf_counter() - w0
            n = N * BLOCKS
            for k, label in ((0, "before"), (1, "txn21")):
                proc, server, wall = (1e6 * t / n for t in totals[k])
                print(f"{name:18} {label:6} {n} calls: {proc:4.0f} us process CPU, "
                      f"{server:4.0f} us server CPU, {wall:5.0f} us wall per call")
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
