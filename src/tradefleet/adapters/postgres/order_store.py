"""Orders and fills on Postgres. Each state change and its event commit in one durable
transaction (``money_transaction``); fills are keyed by the broker's cumulative quantity so
that polling the same report twice, or after a crash, records nothing twice.

``on_status(side, status)`` (the worker's metrics) is told, after the commit, each status an
order moved into: NEW when written, then every change, so counts by status match the rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import asyncpg

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_store import append_events
from tradefleet.adapters.postgres.fenced_order import fence_holds, write_order_if_lock_held
from tradefleet.adapters.postgres.order_reports import apply_report_locked, order_row
from tradefleet.adapters.postgres.position_store import open_positions
from tradefleet.adapters.postgres.sent_order import write_sent
from tradefleet.domain.costs import DEFAULT_COSTS, CostModel
from tradefleet.domain.events import (
    Event,
    OrderCreatedEvent,
    OrderRejectedEvent,
    OrderSentEvent,
    OrderUnresolvedEvent,
)
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import OrderReport, OrderStatus
from tradefleet.ports.feed import FillNotice
from tradefleet.ports.trade_store import NewOrder, OrderRow, PositionRow, StrategyTag


class PostgresOrderStore:
    def __init__(self, db: Database, *, costs: CostModel = DEFAULT_COSTS,
                 on_status: Callable[[str, str], None] | None = None) -> None:
        self._db = db
        self._costs = costs
        self._on_status = on_status

    def _moved(self, row: OrderRow, before: str | None) -> None:
        if self._on_status is not None and str(row.status) != before:
            self._on_status(str(row.side), str(row.status))

    async def create_order(self, lock: Lock, order: NewOrder
                           ) -> tuple[OrderRow | None, list[Event]]:
        # one statement, one round trip: the fenced insert, its event, a synchronous commit
        # (fenced_order.py); the event as the row will be, but for its id
        planned = OrderCreatedEvent(
            worker_id=lock.worker_id, symbol=lock.symbol, order_id=0,
            client_order_id=order.client_order_id, side=str(order.side),
            order_type=str(order.order_type), qty=order.qty, limit_price=order.limit_price,
            status=str(OrderStatus.NEW), purpose=str(order.purpose),
            fencing_token=lock.fencing_token)
        rec = await write_order_if_lock_held(
            self._db.pool, worker_id=lock.worker_id, fencing_token=lock.fencing_token,
            client_order_id=order.client_order_id, trading_day=order.trading_day,
            symbol=lock.symbol, side=order.side, order_type=order.order_type,
            qty=order.qty, limit_price=order.limit_price, purpose=order.purpose,
            attempt=order.attempt, epoch=lock.epoch, market=order.market,
            written_at=order.written_at, created_payload=planned.payload())
        if rec is None:
            return None, []
        row = order_row(rec)
        event = planned.model_copy(update={"order_id": row.order_id})
        self._moved(row, None)
        return row, [event]

    async def fence_holds(self, client_order_id: str, epoch: int | None) -> bool:
        return await fence_holds(self._db.pool, client_order_id, epoch)

    async def get_order(self, order_id: int) -> OrderRow:
        rec = await self._db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
        if rec is None:
            raise LookupError(f"order_id: no order {order_id}")
        return order_row(rec)

    async def _update(self, sql: str, *args: object, event_of=None) -> tuple[OrderRow, list[Event]]:
        async with self._db.money_transaction() as conn:
            # the status moved from, for on_status only: no extra round trip without it
            before = None if self._on_status is None else await conn.fetchval(
                "SELECT status FROM orders WHERE order_id = $1 FOR UPDATE", args[0])
            rec = await conn.fetchrow(sql, *args)
            if rec is None:
                raise LookupError(f"order_id: no order {args[0]} in a state allowing this")
            row = order_row(rec)
            events = [event_of(row)] if event_of else []
            await append_events(conn, events)
        self._moved(row, before)
        return row, events

    async def mark_sent(self, order_id: int, broker_order_id: str, broker_branch: str | None,
                        latency_ms: float) -> tuple[OrderRow, list[Event]]:
        # one statement, one round trip: the locked move to SENT, its event, a synchronous
        # commit (sent_order.py); the payload's row-dependent fields are the row's, there
        planned = OrderSentEvent(
            worker_id="", symbol="", order_id=order_id, client_order_id="",
            broker_order_id=None, side="", qty=0, status="", latency_ms=latency_ms)
        rec = await write_sent(self._db.pool, order_id=order_id,
                               broker_order_id=broker_order_id, broker_branch=broker_branch,
                               sent_payload=planned.payload())
        if rec is None:
            raise LookupError(f"order_id: no order {order_id} in a state allowing this")
        row = order_row(rec)
        events: list[Event] = [OrderSentEvent(
            worker_id=row.worker_id, symbol=row.symbol, order_id=row.order_id,
            client_order_id=row.client_order_id, broker_order_id=row.broker_order_id,
            side=row.side, qty=row.qty, status=row.status, latency_ms=latency_ms)]
        self._moved(row, rec["status_before"])
        return row, events

    async def mark_rejected(self, order_id: int, code: str, message: str
                            ) -> tuple[OrderRow, list[Event]]:
        return await self._update(
            """UPDATE orders SET status = CASE WHEN status IN ('NEW', 'UNKNOWN') THEN 'REJECTED'
                                             ELSE status END,
                   reject_code = $2, reject_message = $3,
                   updated_at = now() WHERE order_id = $1 RETURNING *""", order_id, code, message,
            event_of=lambda r: OrderRejectedEvent(
                worker_id=r.worker_id, symbol=r.symbol, order_id=r.order_id,
                client_order_id=r.client_order_id, side=r.side, qty=r.qty, status=r.status,
                code=code, reason=message))

    async def mark_unknown(self, order_id: int, error: str, *,
                           answered_at: float | None = None) -> tuple[OrderRow, list[Event]]:
        # sent_at is back-dated to when the attempt ended (``answered_at``, monotonic), judged
        # as the statement runs: waiting for a connection or a pause must not delay the grace
        async with self._db.money_transaction() as conn:
            ago = 0.0 if answered_at is None else max(0.0, time.monotonic() - answered_at)
            # an EXPIRED row sent after all (its sender passed the fence before the expiry)
            # may be at the exchange: UNKNOWN again, followed until the broker answers for it
            rec = await conn.fetchrow(
                """UPDATE orders SET status = CASE WHEN status = 'NEW'
                                                   OR (status = 'EXPIRED' AND filled_qty = 0
                                                       AND broker_order_id IS NULL)
                                              THEN 'UNKNOWN' ELSE status END,
                       sent_at = coalesce(sent_at, now() - make_interval(secs => $2)),
                       updated_at = now()
                   WHERE order_id = $1 RETURNING *""", order_id, ago)
            if rec is None:
                raise LookupError(f"order_id: no order {order_id} in a state allowing this")
            row = order_row(rec)
            events: list[Event] = [OrderUnresolvedEvent(
                worker_id=row.worker_id, symbol=row.symbol, order_id=row.order_id,
                client_order_id=row.client_order_id, side=row.side, qty=row.qty, error=error)]
            await append_events(conn, events)
            return row, events

    async def expire_unseen(self, order_id: int, reason: str, *, min_age_s: float
                            ) -> OrderRow | None:
        async with self._db.money_transaction() as conn:
            rec = await conn.fetchrow(
                """UPDATE orders SET status = 'EXPIRED', reject_message = $2, updated_at = now()
                   WHERE order_id = $1 AND status IN ('NEW', 'UNKNOWN') AND filled_qty = 0
                     AND coalesce(sent_at, created_at) <= now() - make_interval(secs => $3)
                   RETURNING *""", order_id, reason, float(min_age_s))
        if rec is None:
            return None
        row = order_row(rec)
        self._moved(row, None)            # only NEW or UNKNOWN rows expire
        return row

    async def apply_report(self, order_id: int, report: OrderReport, strategy: StrategyTag
                           ) -> tuple[OrderRow, list[Event]]:
        async with self._db.money_transaction() as conn:
            row = order_row(await conn.fetchrow(
                "SELECT * FROM orders WHERE order_id = $1 FOR UPDATE", order_id))
            updated, events = await apply_report_locked(conn, row, report, strategy,
                                                        self._costs)
        self._moved(updated, str(row.status))
        return updated, events

    async def record_fill_notice(self, worker_id: str, trading_day: date, notice: FillNotice,
                                 strategy: StrategyTag
                                 ) -> tuple[str, OrderRow | None, list[Event]]:
        """A pushed fill notice of one of ``worker_id``'s orders (fill_notice_store.py)."""
        from tradefleet.adapters.postgres.fill_notice_store import (
            NoticeOutcome,
            apply_fill_notice,
            may_be_ours,
        )
        # each notice reaches every worker of the account: the others answer with one read,
        # not a money transaction (apply_fill_notice looks again under the row's lock)
        if not await may_be_ours(self._db.pool, worker_id=worker_id, trading_day=trading_day,
                                 notice=notice):
            return str(NoticeOutcome.NOT_OURS), None, []
        async with self._db.money_transaction() as conn:
            outcome, before, row, events = await apply_fill_notice(
                conn, worker_id=worker_id, trading_day=trading_day, notice=notice,
                strategy=strategy, costs=self._costs)
        if before is not None and row is not None:
            self._moved(row, str(before.status))
        return str(outcome), row, events

    async def adopted_broker_ids(self, trading_day: date, symbol: str) -> set[str]:
        """Broker ids already attached to one of our rows (never adopt one twice)."""
        recs = await self._db.pool.fetch(
            """SELECT broker_order_id FROM orders WHERE trading_day = $1 AND symbol = $2
                 AND broker_order_id IS NOT NULL""", trading_day, symbol)
        return {r["broker_order_id"] for r in recs}

    async def open_orders(self, worker_id: str) -> list[OrderRow]:
        recs = await self._db.pool.fetch(
            """SELECT * FROM orders WHERE worker_id = $1
                 AND status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')
               ORDER BY order_id""", worker_id)
        return [order_row(r) for r in recs]

    async def orders_to_follow(self, worker_id: str) -> list[tuple[OrderRow, float]]:
        """Open orders of this worker and of workers no longer live (EXIT, or heartbeat
        older than their TTL by the database clock), with their age in seconds since sent
        (or written), oldest first: nobody else follows a dead worker's orders."""
        recs = await self._db.pool.fetch(
            """SELECT o.*, EXTRACT(EPOCH FROM now() - coalesce(o.sent_at, o.created_at))::float8
                      AS age_s
                 FROM orders o JOIN workers w ON w.worker_id = o.worker_id
                WHERE o.status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')
                  AND (o.worker_id = $1 OR w.status = 'EXIT'
                       OR w.heartbeat_at < now() - make_interval(secs => w.lock_ttl_seconds))
                ORDER BY o.order_id""", worker_id)
        return [(order_row(r), float(r["age_s"])) for r in recs]

    async def expired_to_recheck(self, worker_id: str, since_day: date
                                 ) -> list[tuple[OrderRow, float]]:
        recs = await self._db.pool.fetch(
            """SELECT o.*, EXTRACT(EPOCH FROM now() - coalesce(o.sent_at, o.created_at))::float8
                      AS age_s
                 FROM orders o JOIN workers w ON w.worker_id = o.worker_id
                WHERE o.status = 'EXPIRED' AND o.broker_order_id IS NULL AND o.filled_qty = 0
                  AND o.trading_day >= $2
                  AND (o.worker_id = $1 OR w.status = 'EXIT'
                       OR w.heartbeat_at < now() - make_interval(secs => w.lock_ttl_seconds))
                ORDER BY o.order_id""", worker_id, since_day)
        return [(order_row(r), float(r["age_s"])) for r in recs]

    async def open_positions(self, worker_id: str) -> list[PositionRow]:
        recs = await open_positions(self._db.pool, worker_id)
        return [_position(r) for r in recs]

    async def get_position(self, position_id: int) -> PositionRow:
        rec = await self._db.pool.fetchrow(
            "SELECT * FROM positions WHERE position_id = $1", position_id)
        if rec is None:
            raise LookupError(f"position_id: no position {position_id}")
        return _position(rec)


def _position(rec: asyncpg.Record) -> PositionRow:
    return PositionRow(**{f: rec[f] for f in PositionRow.__dataclass_fields__})
