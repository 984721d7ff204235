"""SC-010: eight OS processes race for the same symbol, round after round."""

from __future__ import annotations

import asyncio
import multiprocessing as mp

import asyncpg

PROCESSES = 8
ROUNDS = 120


def _racer(dsn: str, worker_id: str, barrier, out) -> None:
    async def main() -> list[tuple[int, int | None]]:
        from tradefleet.adapters.postgres.database import Database
        from tradefleet.adapters.postgres.event_sink import PostgresEventSink
        from tradefleet.adapters.postgres.lock_store import PostgresLockStore
        from tradefleet.services.lock_service import LockService

        db = await Database.connect(dsn, min_size=1, max_size=1)
        locks = LockService(PostgresLockStore(db), PostgresEventSink(db), ttl_seconds=60)
        results = []
        try:
            for r in range(ROUNDS):
                await asyncio.to_thread(barrier.wait)
                lock = await locks.acquire_lock(f"{100000 + r}", worker_id)
                results.append((r, lock.fencing_token if lock else None))
        finally:
            await db.close()
        return results

    out.put((worker_id, asyncio.run(main())))


async def test_sc010_many_processes_one_winner_per_round(pg_dsn):
    conn = await asyncpg.connect(pg_dsn)
    workers = [f"racer-{i}" for i in range(PROCESSES)]
    for i, w in enumerate(workers):
        await conn.execute(
            """INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds)
               VALUES ($1, $2, 'test', 'sim', 'SCAN', 60)""", w, 1000 + i)
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(pg_dsn, w, barrier, out)) for w in workers]
    for p in procs:
        p.start()
    results = dict([await asyncio.to_thread(out.get, True, 120) for _ in procs])
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0

    for r in range(ROUNDS):
        winners = [w for w in workers if results[w][r][1] is not None]
        assert len(winners) == 1, f"round {r}: winners {winners}"
        symbol = f"{100000 + r}"
        holder = await conn.fetchval("SELECT worker_id FROM stock_locks WHERE symbol = $1",
                                     symbol)
        assert holder == winners[0]
        rejected = await conn.fetch(
            """SELECT worker_id FROM events WHERE event_type = 'LockRejectedEvent'
                AND symbol = $1""", symbol)
        assert sorted(e["worker_id"] for e in rejected) == sorted(set(workers) - {holder})
        acquired = await conn.fetch(
            """SELECT worker_id, (payload->>'fencing_token')::bigint AS token FROM events
                WHERE event_type = 'LockAcquiredEvent' AND symbol = $1""", symbol)
        assert [(e["worker_id"], e["token"]) for e in acquired] == [
            (holder, results[holder][r][1])]
    # the races were real: wins are spread over several processes
    wins = {w: sum(1 for _, t in results[w] if t is not None) for w in workers}
    assert sum(wins.values()) == ROUNDS
    assert sum(1 for n in wins.values() if n > 0) >= 2
    await conn.close()
