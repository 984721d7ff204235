"""The guarded order insert: an order row for a symbol exists only if, at the moment of the
insert, the caller still held that symbol's lock with that fencing token.

The check and the insert are one statement, and the lock row is share-locked by it, so a
concurrent reclaim either waits for this insert to commit (the order was placed while the
lock was held) or has already deleted the lock (nothing is inserted). A BUY is also refused
while another worker has an OPEN position on the symbol (an orphan of a dead worker).

Call ``insert_order_if_lock_held`` inside ``Database.money_transaction`` (synchronous commit),
or ``write_order_if_lock_held`` on its own (the same statement, committed synchronously by
itself): that flush also makes the lock it was placed under durable, which is what lets lock
traffic use async commit."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

_FENCED = """
INSERT INTO orders (client_order_id, worker_id, trading_day, symbol, side, order_type, qty,
                    limit_price, status, fencing_token, purpose, attempt, market, written_at)
SELECT $1, l.worker_id, $3, l.symbol, $5, $6, $7, $8, 'NEW', l.fencing_token, $9, $10, $13, $14
  FROM stock_locks l
 WHERE l.symbol = $4 AND l.worker_id = $2 AND l.fencing_token = $11
   AND EXISTS (SELECT 1 FROM workers w WHERE w.worker_id = $2 AND w.status <> 'EXIT'
                  AND w.epoch = coalesce($12::bigint, w.epoch))
   AND ($5 = 'SELL' OR NOT EXISTS (
        SELECT 1 FROM positions p
         WHERE p.symbol = $4 AND p.status = 'OPEN' AND p.worker_id <> $2))
"""
_INSERT = _FENCED + "   FOR SHARE OF l\nRETURNING order_id\n"

# The same guarded insert, its OrderCreatedEvent and a synchronous commit in ONE statement
# (one round trip, its own implicit transaction): the money path of a tick's exit wrote the
# row in six (BEGIN, SET LOCAL, insert, read back, event, COMMIT). ``set_config(..., true)``
# is ``SET LOCAL``: it holds until this statement's transaction commits, so the commit waits
# for the disk whatever the pool's default; a row is inserted only when every condition,
# this one included, held. The event's payload comes whole from the caller but for the new
# order's id.
_WRITE = ("WITH ins AS (" + _FENCED
          + "   AND set_config('synchronous_commit', 'on', true) = 'on'\n"
          + """   FOR SHARE OF l
RETURNING *
), ev AS (
INSERT INTO events (event_type, worker_id, symbol, payload)
SELECT 'OrderCreatedEvent', ins.worker_id, ins.symbol,
       jsonb_set($15::jsonb, '{order_id}', to_jsonb(ins.order_id))
  FROM ins
)
SELECT * FROM ins
""")


async def insert_order_if_lock_held(
    conn: asyncpg.Connection, *, worker_id: str, fencing_token: int, client_order_id: str,
    trading_day: date, symbol: str, side: str, order_type: str, qty: int,
    limit_price: int | None, purpose: str, attempt: int = 1, epoch: int | None = None,
    market: str | None = None, written_at: datetime | None = None,
) -> int | None:
    """The new order's id, or None when the lock is no longer ours (nothing inserted).
    ``epoch`` is the caller's process epoch; the worker always passes it (None is for
    tools and tests that act without a registered process)."""
    return await conn.fetchval(
        _INSERT, client_order_id, worker_id, trading_day, symbol, str(side), str(order_type),
        qty, limit_price, str(purpose), attempt, fencing_token, epoch, market, written_at)


async def write_order_if_lock_held(
    conn: asyncpg.Connection | asyncpg.Pool, *, worker_id: str, fencing_token: int,
    client_order_id: str, trading_day: date, symbol: str, side: str, order_type: str,
    qty: int, limit_price: int | None, purpose: str, attempt: int, epoch: int | None,
    market: str | None, written_at: datetime | None, created_payload: dict,
) -> asyncpg.Record | None:
    """The new order's row, committed and on disk with its OrderCreatedEvent (payload
    ``created_payload`` with the row's id), or None when the lock is no longer ours
    (nothing written). Not inside another transaction: its commit is the statement's."""
    return await conn.fetchrow(
        _WRITE, client_order_id, worker_id, trading_day, symbol, str(side), str(order_type),
        qty, limit_price, str(purpose), attempt, fencing_token, epoch, market, written_at,
        created_payload)


_FENCE_HOLDS = """
SELECT EXISTS (
    SELECT 1 FROM orders o
      JOIN stock_locks l ON l.symbol = o.symbol AND l.worker_id = o.worker_id
                        AND l.fencing_token = o.fencing_token
      JOIN workers w ON w.worker_id = o.worker_id
     WHERE o.client_order_id = $1 AND o.status = 'NEW' AND w.status <> 'EXIT'
       AND w.epoch = coalesce($2::bigint, w.epoch))
"""


async def fence_holds(conn: asyncpg.Connection | asyncpg.Pool, client_order_id: str,
                      epoch: int | None) -> bool:
    """Right before the HTTP send: the row is still NEW, its lock is still held with the
    token it was written under, and the worker row is still this process's epoch."""
    return bool(await conn.fetchval(_FENCE_HOLDS, client_order_id, epoch))
