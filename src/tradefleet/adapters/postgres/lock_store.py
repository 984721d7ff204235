"""Per-symbol locks in Postgres. Each operation is ONE statement: the primary key on
``stock_locks.symbol`` decides races (never check-then-insert), and the event describing the
change is inserted by the same statement, so it exists exactly when the change committed.

Acquire share-locks the worker row: a reclaim that is marking the worker EXIT either finishes
first (the acquire then sees EXIT and is rejected) or waits until the new lock is committed
and deletes it too. Without that, a worker being reclaimed could keep a fresh lock.

Durability: these statements may run with ``synchronous_commit = off`` (pool built with
``durable_by_default=False``). Losing an acquire/heartbeat/release in a DB crash is harmless
because every order is inserted in a synchronous commit (``Database.money_transaction``),
and WAL is flushed in order: once an order under a lock is durable, so is the lock."""

from __future__ import annotations

from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.events import (
    Event,
    LockAcquiredEvent,
    LockRejectedEvent,
    LockReleasedEvent,
    WorkerFailedEvent,
)
from tradefleet.domain.locks import Lock

_ACQUIRE = """
WITH live AS (
    SELECT worker_id FROM workers WHERE worker_id = $2 AND status <> 'EXIT' FOR SHARE
), ins AS (
    INSERT INTO stock_locks (symbol, worker_id, fencing_token, ttl_seconds)
    SELECT $1, live.worker_id, nextval('fencing_token_seq'), $3 FROM live
    ON CONFLICT (symbol) DO NOTHING
    RETURNING symbol, worker_id, fencing_token, locked_at, ttl_seconds
), acquired AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT 'LockAcquiredEvent', worker_id, symbol,
           jsonb_build_object('fencing_token', fencing_token, 'locked_at', locked_at,
                              'ttl_seconds', ttl_seconds)
      FROM ins
), rejected AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT 'LockRejectedEvent', $2, $1,
           jsonb_build_object('held_by', (SELECT worker_id FROM stock_locks WHERE symbol = $1))
     WHERE NOT EXISTS (SELECT 1 FROM ins)
    RETURNING event_id
)
SELECT ins.fencing_token, ins.locked_at, ins.ttl_seconds,
       (SELECT worker_id FROM stock_locks WHERE symbol = $1) AS held_by,
       (SELECT event_id FROM rejected) AS rejected_event_id
  FROM (SELECT 1) AS one LEFT JOIN ins ON TRUE
"""

# In a true race the statement above waited for the winner's insert to commit, but its
# snapshot predates that commit, so it saw no holder. A new statement has a new snapshot.
_NAME_HOLDER = """
UPDATE events SET payload = jsonb_build_object(
           'held_by', (SELECT worker_id FROM stock_locks WHERE symbol = $2))
 WHERE event_id = $1
RETURNING payload->>'held_by'
"""

_RELEASE = """
WITH del AS (
    DELETE FROM stock_locks WHERE symbol = $1 AND worker_id = $2 AND fencing_token = $3
    RETURNING symbol, worker_id, fencing_token, locked_at
)
INSERT INTO events (event_type, worker_id, symbol, payload)
SELECT 'LockReleasedEvent', worker_id, symbol,
       jsonb_build_object('fencing_token', fencing_token, 'locked_at', locked_at,
                          'reason', $4::text)
  FROM del
RETURNING event_id
"""

_HEARTBEAT = """
WITH w AS (
    UPDATE workers SET heartbeat_at = now()
     WHERE worker_id = $1 AND epoch = $2 AND status <> 'EXIT'
    RETURNING worker_id
), l AS (
    UPDATE stock_locks SET heartbeat_at = now()
     WHERE worker_id = $1 AND EXISTS (SELECT 1 FROM w)
    RETURNING 1
)
SELECT (SELECT count(*) FROM w) AS alive, (SELECT count(*) FROM l) AS locks
"""

# Stale workers are row-locked with SKIP LOCKED, so concurrent reclaimers split the work and
# a row another reclaimer already marked EXIT is re-checked and left alone. NO KEY UPDATE (not
# UPDATE) so that it does not conflict with the KEY SHARE lock the orders.worker_id foreign
# key takes in a concurrent guarded insert: that pair would otherwise deadlock.
RECLAIMERS_TAKE_TURNS = "SELECT pg_advisory_xact_lock(hashtextextended('tf_reclaim', 0))"
_RECLAIM = """
WITH dead AS (
    SELECT worker_id, heartbeat_at FROM workers
     WHERE status <> 'EXIT' AND heartbeat_at < now() - make_interval(secs => lock_ttl_seconds)
     FOR NO KEY UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM stock_locks l USING dead WHERE l.worker_id = dead.worker_id
    RETURNING l.symbol, l.worker_id, l.fencing_token, l.locked_at
), stale AS (
    DELETE FROM stock_locks
     WHERE heartbeat_at < now() - make_interval(secs => ttl_seconds)
       AND worker_id NOT IN (SELECT worker_id FROM dead)
    RETURNING symbol, worker_id, fencing_token, locked_at
), released AS (
    SELECT * FROM gone UNION ALL SELECT * FROM stale
), marked AS (
    UPDATE workers w SET status = 'EXIT', stopped_at = now(), current_symbol = NULL
      FROM dead WHERE w.worker_id = dead.worker_id
    RETURNING w.worker_id
), failed_events AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT 'WorkerFailedEvent', d.worker_id, NULL,
           jsonb_build_object('last_heartbeat_at', d.heartbeat_at, 'detected_by', $1::text,
                              'locks_reclaimed',
                              (SELECT count(*) FROM gone g WHERE g.worker_id = d.worker_id))
      FROM dead d
), released_events AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT 'LockReleasedEvent', worker_id, symbol,
           jsonb_build_object('fencing_token', fencing_token, 'locked_at', locked_at,
                              'reason', 'RECLAIMED')
      FROM released
)
SELECT 'worker' AS kind, d.worker_id, NULL AS symbol, NULL::bigint AS fencing_token,
       d.heartbeat_at AS at, (SELECT count(*) FROM gone g WHERE g.worker_id = d.worker_id) AS n
  FROM dead d
UNION ALL
SELECT 'lock', worker_id, symbol, fencing_token, locked_at, 0 FROM released
"""


class PostgresLockStore:
    def __init__(self, db: Database, *, reclaimer_id: str | None = None) -> None:
        self._db = db
        self._reclaimer_id = reclaimer_id

    async def try_acquire(self, symbol: str, worker_id: str, ttl_seconds: int
                          ) -> tuple[Lock | None, Event]:
        row = await self._db.pool.fetchrow(_ACQUIRE, symbol, worker_id, ttl_seconds)
        if row["fencing_token"] is None:
            holder = row["held_by"]
            if holder is None and row["rejected_event_id"] is not None:
                holder = await self._db.pool.fetchval(_NAME_HOLDER, row["rejected_event_id"],
                                                      symbol)
            holder = holder if holder != worker_id else None
            return None, LockRejectedEvent(worker_id=worker_id, symbol=symbol, held_by=holder)
        lock = Lock(symbol, worker_id, row["fencing_token"], row["locked_at"],
                    row["ttl_seconds"])
        return lock, LockAcquiredEvent(worker_id=worker_id, symbol=symbol,
                                       fencing_token=lock.fencing_token,
                                       locked_at=lock.locked_at, ttl_seconds=ttl_seconds)

    async def release(self, lock: Lock, reason: str) -> Event | None:
        event_id = await self._db.pool.fetchval(
            _RELEASE, lock.symbol, lock.worker_id, lock.fencing_token, reason)
        if event_id is None:
            return None
        return LockReleasedEvent(worker_id=lock.worker_id, symbol=lock.symbol,
                                 fencing_token=lock.fencing_token, locked_at=lock.locked_at,
                                 reason=reason)

    async def heartbeat(self, worker_id: str, epoch: int) -> bool:
        row = await self._db.pool.fetchrow(_HEARTBEAT, worker_id, epoch)
        return row["alive"] == 1

    async def reclaim_expired(self) -> tuple[list[str], list[Event]]:
        """Reclaimers (the operator, every worker's timer) take turns: two at once could
        each delete locks the other is deleting, in opposite orders (a deadlock)."""
        async with self._db.transaction() as conn:
            await conn.execute(RECLAIMERS_TAKE_TURNS)
            rows = await conn.fetch(_RECLAIM, self._reclaimer_id)
        workers: list[str] = []
        events: list[Event] = []
        for r in rows:
            if r["kind"] == "worker":
                workers.append(r["worker_id"])
                events.append(WorkerFailedEvent(
                    worker_id=r["worker_id"], last_heartbeat_at=r["at"],
                    locks_reclaimed=r["n"], detected_by=self._reclaimer_id))
            else:
                events.append(LockReleasedEvent(
                    worker_id=r["worker_id"], symbol=r["symbol"],
                    fencing_token=r["fencing_token"], locked_at=r["at"], reason="RECLAIMED"))
        return workers, events

    async def locks_of(self, worker_id: str) -> list[Lock]:
        rows = await self._db.pool.fetch(
            """SELECT symbol, worker_id, fencing_token, locked_at, ttl_seconds
                 FROM stock_locks WHERE worker_id = $1 ORDER BY symbol""", worker_id)
        return [Lock(**dict(r)) for r in rows]
