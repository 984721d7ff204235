"""The broker's acceptance of an order recorded in one round trip (issue 20, fill-to-record):
the row's move to SENT, its OrderSentEvent and a synchronous commit are one statement, in
its own implicit transaction (it took six: BEGIN, SET LOCAL, SELECT ... FOR UPDATE, UPDATE,
event, COMMIT).

- The status moved from: ``before`` locks the row FOR UPDATE and the UPDATE joins it, so the
  lock is taken before the row is changed. Under READ COMMITTED a row changed meanwhile by a
  committed transaction is locked and read in its newest version, and the UPDATE (finding
  its snapshot's version outdated) re-reads that same newest version, which nobody else can
  change while we hold the lock: ``status_before`` is the status the UPDATE moved from.
- ``set_config(..., true)`` is ``SET LOCAL``: a row is updated only when it was evaluated,
  and it holds until this statement's transaction commits, so that commit waits for the disk
  whatever the pool's default. NOT for use inside another transaction: the setting would hold
  for the rest of the caller's transaction and the commit would be the caller's.
- The event's payload comes from the caller (``OrderSentEvent(...).payload()`` with the
  fields it knows) and the row's own values overwrite the rest, as the old path built it
  from the returned row.
"""

from __future__ import annotations

import asyncpg

_MARK_SENT = """
WITH before AS (
    SELECT order_id, status FROM orders WHERE order_id = $1 FOR UPDATE
), upd AS (
    -- a report applied meanwhile (another follower) is never moved backwards
    -- an ack after we had judged the order never sent reopens it (its fills must land)
    UPDATE orders o SET status = CASE WHEN o.status IN ('NEW', 'UNKNOWN')
                                        OR (o.status = 'EXPIRED' AND o.filled_qty = 0)
                                      THEN 'SENT' ELSE o.status END,
           broker_order_id = coalesce(o.broker_order_id, $2),
           broker_branch = coalesce(o.broker_branch, $3),
           sent_at = coalesce(o.sent_at, now()), updated_at = now()
      FROM before b
     WHERE o.order_id = b.order_id
       AND set_config('synchronous_commit', 'on', true) = 'on'
    RETURNING o.*, b.status AS status_before
), ev AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT 'OrderSentEvent', upd.worker_id, upd.symbol,
           $4::jsonb || jsonb_build_object(
               'order_id', upd.order_id, 'client_order_id', upd.client_order_id,
               'broker_order_id', upd.broker_order_id, 'side', upd.side, 'qty', upd.qty,
               'status', upd.status)
      FROM upd
)
SELECT * FROM upd
"""


async def write_sent(pool: asyncpg.Pool | asyncpg.Connection, *, order_id: int,
                     broker_order_id: str, broker_branch: str | None, sent_payload: dict
                     ) -> asyncpg.Record | None:
    """The updated row (with ``status_before``), committed and on disk with its
    OrderSentEvent, or None when there is no such order (nothing written). Not inside
    another transaction: its commit is the statement's."""
    return await pool.fetchrow(_MARK_SENT, order_id, broker_order_id, broker_branch,
                               sent_payload)
