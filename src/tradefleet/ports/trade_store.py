"""What the order services need from storage. Every method that changes money state writes
its rows and events in one durable transaction and returns the events for logging only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from tradefleet.domain.events import Event
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import OrderReport, OrderStatus
from tradefleet.ports.feed import FillNotice


@dataclass(frozen=True, slots=True)
class StrategyTag:
    """Which strategy/params opened a position (stored on the position for later tuning)."""

    name: str
    version: str
    param_version: str


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: int
    client_order_id: str
    worker_id: str
    trading_day: date
    symbol: str
    side: str
    order_type: str
    qty: int
    limit_price: int | None
    status: OrderStatus
    filled_qty: int
    filled_amount: int
    fencing_token: int
    purpose: str
    attempt: int
    broker_order_id: str | None
    broker_branch: str | None
    reject_code: str | None
    created_at: datetime
    market: str | None = None        # KRX market of the symbol (taxes), known at entry
    written_at: datetime | None = None   # the writer's clock at the write (broker's scale)


@dataclass(frozen=True, slots=True)
class PositionRow:
    position_id: int
    worker_id: str
    trading_day: date
    symbol: str
    status: str
    qty: int
    buy_amount: int
    sell_amount: int
    entry_price: Decimal | None
    entry_at: datetime | None
    fencing_token: int


@dataclass(frozen=True, slots=True)
class NewOrder:
    client_order_id: str
    trading_day: date
    side: str
    order_type: str
    qty: int
    limit_price: int | None
    purpose: str
    attempt: int = 1
    market: str | None = None
    written_at: datetime | None = None   # the writer's (session) clock: bounds lookups


class TradeStore(Protocol):
    async def create_order(self, lock: Lock, order: NewOrder
                           ) -> tuple[OrderRow | None, list[Event]]:
        """Fenced insert (None when the lock is no longer held) + OrderCreatedEvent."""
        ...

    async def get_order(self, order_id: int) -> OrderRow:
        ...

    async def mark_sent(self, order_id: int, broker_order_id: str, broker_branch: str | None,
                        latency_ms: float) -> tuple[OrderRow, list[Event]]:
        ...

    async def mark_rejected(self, order_id: int, code: str, message: str
                            ) -> tuple[OrderRow, list[Event]]:
        ...

    async def mark_unknown(self, order_id: int, error: str, *,
                           answered_at: float | None = None) -> tuple[OrderRow, list[Event]]:
        """NEW -> UNKNOWN; ``sent_at`` is when the send attempt ended (``answered_at``, a
        ``time.monotonic()`` reading; now if None), so that a wait or a pause before this
        write does not delay the unseen grace."""
        ...

    async def expire_unseen(self, order_id: int, reason: str, *, min_age_s: float
                            ) -> OrderRow | None:
        """EXPIRE a NEW/UNKNOWN row with no fills whose send (or creation) is at least
        ``min_age_s`` old by the DB clock; None when it is too young or no longer eligible."""
        ...

    async def record_fill_notice(self, worker_id: str, trading_day: date, notice: FillNotice,
                                 strategy: StrategyTag
                                 ) -> tuple[str, OrderRow | None, list[Event]]:
        """A pushed fill of one of ``worker_id``'s orders (matched by its ODNO only), once:
        with its duplicates and with the follower's report of the same execution."""
        ...

    async def apply_report(self, order_id: int, report: OrderReport, strategy: StrategyTag
                           ) -> tuple[OrderRow, list[Event]]:
        """Adopt the broker id if missing, record the new fills, update the order and apply the
        fills to the position, all in one transaction. Replays change nothing."""
        ...

    async def adopted_broker_ids(self, trading_day: date, symbol: str) -> set[str]:
        ...

    async def open_orders(self, worker_id: str) -> list[OrderRow]:
        """Non-terminal orders (NEW, SENT, UNKNOWN, PARTIALLY_FILLED), oldest first."""
        ...

    async def orders_to_follow(self, worker_id: str) -> list[tuple[OrderRow, float]]:
        """Open orders of this worker and of workers no longer live, with their age in
        seconds by the database clock."""
        ...

    async def expired_to_recheck(self, worker_id: str, since_day: date
                                 ) -> list[tuple[OrderRow, float]]:
        """EXPIRED rows the broker never showed (no broker id, nothing filled) of trading
        days from ``since_day``, of this worker and of workers no longer live, with their
        age: the broker may still show them (a late send, a list that lagged)."""
        ...

    async def fence_holds(self, client_order_id: str, epoch: int | None) -> bool:
        """The NEW row's lock is still held with its token by this epoch of its worker."""
        ...

    async def open_positions(self, worker_id: str) -> list[PositionRow]:
        ...

    async def get_position(self, position_id: int) -> PositionRow:
        ...


class SummaryStore(Protocol):
    async def append_tuning(self, worker_id: str, trading_day: date, key: str,
                            item: dict[str, Any]) -> None:
        ...
