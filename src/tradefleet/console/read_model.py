"""What the console's pages read: one query a view, by the database clock. Nothing here
selects a credential column (``broker_tokens`` and friends are never read)."""

from __future__ import annotations

from datetime import date

from tradefleet.adapters.postgres.database import Database

# (each subquery walks an index from its newest end: the events table grows all day)
FLEET = """
WITH starts AS (
  SELECT worker_id, count(*) AS n FROM events
   WHERE event_type = 'WorkerStartedEvent' AND occurred_at > now() - interval '1 day'
   GROUP BY worker_id)
SELECT w.worker_id, w.status, w.current_symbol, w.epoch, w.buy_blocked, w.stopped_at,
       w.feed_mode,
       EXTRACT(EPOCH FROM now() - w.heartbeat_at)::float8 AS heartbeat_age,
       p.symbol AS position_symbol, p.qty, p.entry_price, p.entry_at,
       (SELECT (e.payload->>'price')::bigint FROM events e
         WHERE e.worker_id = w.worker_id AND e.event_type = 'MonitoringEvent'
           AND e.symbol = p.symbol AND e.occurred_at >= p.entry_at
         ORDER BY e.occurred_at DESC LIMIT 1) AS last_price,
       COALESCE(s.realized_pnl, 0) AS realized_pnl, COALESCE(s.trades_count, 0) AS trades,
       GREATEST(COALESCE(st.n, 0) - 1, 0) AS restarts,
       COALESCE(c.buy_paused, false) AS buy_paused, c.liquidate_requested_at,
       c.liquidate_requested_by
  FROM workers w
  LEFT JOIN positions p ON p.worker_id = w.worker_id AND p.status = 'OPEN'
  LEFT JOIN daily_summaries s ON s.worker_id = w.worker_id AND s.trading_day = $1
  LEFT JOIN worker_controls c ON c.worker_id = w.worker_id
  LEFT JOIN starts st ON st.worker_id = w.worker_id
 ORDER BY length(w.worker_id), w.worker_id
"""

# the feed's holder is live while its lease is renewed (feed/holder.py)
FEED = """
SELECT holder_id FROM feed_holders
 WHERE renewed_at + make_interval(secs => ttl_seconds) > now()
 ORDER BY renewed_at DESC LIMIT 1
"""

ORDERS = """
SELECT o.order_id, o.client_order_id, o.worker_id, o.symbol, o.side, o.order_type, o.qty,
       o.limit_price, o.status, o.filled_qty, o.filled_amount, o.purpose, o.attempt,
       o.reject_code, o.reject_message, o.created_at, o.sent_at, o.updated_at,
       f.fills, f.first_fill_at, f.last_fill_at
  FROM orders o
  LEFT JOIN LATERAL (SELECT count(*) AS fills, min(filled_at) AS first_fill_at,
                            max(filled_at) AS last_fill_at
                       FROM fills WHERE fills.order_id = o.order_id) f ON true
 WHERE o.trading_day = $1 AND ($2::text IS NULL OR o.worker_id = $2)
   AND ($3::text IS NULL OR o.symbol = $3)
 ORDER BY o.order_id DESC LIMIT $4
"""

SUMMARIES = """
SELECT worker_id, realized_pnl, trades_count, win_count, loss_count, max_loss, fees, taxes,
       win_rate, avg_pnl, daily_tuning(trading_day, worker_id) AS tuning
  FROM daily_summaries WHERE trading_day = $1
 ORDER BY length(worker_id), worker_id
"""

CLOSED = """
SELECT worker_id, symbol, exit_at, realized_pnl, exit_reason FROM positions
 WHERE trading_day = $1 AND status = 'CLOSED' AND exit_at IS NOT NULL
 ORDER BY exit_at, position_id
"""

EVENTS = """
SELECT event_id, event_type, worker_id, symbol, payload, occurred_at FROM events
 WHERE ($1::text IS NULL OR worker_id = $1) AND ($2::text IS NULL OR event_type = $2)
   AND ($3::text[] IS NULL OR event_type = ANY($3))
 ORDER BY event_id DESC LIMIT $4
"""

EVENT_TYPES = "SELECT DISTINCT event_type FROM events ORDER BY event_type"

# what a worker's timeline is made of: its state, locks, orders, fills and risk
TIMELINE_TYPES = [
    "WorkerStartedEvent", "WorkerStoppedEvent", "WorkerFailedEvent", "StateTransitionedEvent",
    "LockAcquiredEvent", "LockRejectedEvent", "LockReleasedEvent", "OrderCreatedEvent",
    "OrderSentEvent", "OrderFilledEvent", "OrderRejectedEvent", "OrderUnresolvedEvent",
    "OrderUnfilledEvent", "OrderExpiredEvent", "PositionEnteredEvent", "PositionExitedEvent",
    "RiskViolationEvent", "EntryCutoffEvent", "MandatoryLiquidationEvent",
    "LiquidationShortfallEvent", "ConsoleActionEvent", "OrphanAdoptedEvent",
]


class ReadModel:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def fleet(self, day: date) -> list[dict]:
        return [dict(r) for r in await self._db.pool.fetch(FLEET, day)]

    async def feed_holder(self) -> str | None:
        return await self._db.pool.fetchval(FEED)

    async def orders(self, day: date, worker: str | None, symbol: str | None,
                     limit: int = 500) -> list[dict]:
        return [dict(r) for r in await self._db.pool.fetch(ORDERS, day, worker, symbol, limit)]

    async def order_symbols(self, day: date) -> list[str]:
        rows = await self._db.pool.fetch(
            "SELECT DISTINCT symbol FROM orders WHERE trading_day = $1 ORDER BY symbol", day)
        return [r["symbol"] for r in rows]

    async def summaries(self, day: date) -> list[dict]:
        return [dict(r) for r in await self._db.pool.fetch(SUMMARIES, day)]

    async def closed_trades(self, day: date) -> list[dict]:
        return [dict(r) for r in await self._db.pool.fetch(CLOSED, day)]

    async def events(self, worker: str | None, event_type: str | None,
                     types: list[str] | None = None, limit: int = 300) -> list[dict]:
        rows = await self._db.pool.fetch(EVENTS, worker, event_type, types, limit)
        return [dict(r) for r in rows]

    async def event_types(self) -> list[str]:
        return [r["event_type"] for r in await self._db.pool.fetch(EVENT_TYPES)]

    async def worker_ids(self) -> list[str]:
        rows = await self._db.pool.fetch(
            "SELECT worker_id FROM workers ORDER BY length(worker_id), worker_id")
        return [r["worker_id"] for r in rows]

    async def timeline(self, worker: str, limit: int = 400) -> list[dict]:
        return await self.events(worker, None, TIMELINE_TYPES, limit)
