"""Order vocabulary shared by the domain, the services and every broker adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class OrderStatus(StrEnum):
    NEW = "NEW"                      # row written before sending
    SENT = "SENT"                    # broker acknowledged, nothing filled yet
    UNKNOWN = "UNKNOWN"              # ambiguous send: never resend, settle by broker lookup
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class OrderPurpose(StrEnum):
    ENTRY = "ENTRY"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    TREND_BREAK = "TREND_BREAK"
    TIME_EXIT = "TIME_EXIT"
    LIQUIDATION = "LIQUIDATION"
    SHUTDOWN = "SHUTDOWN"
    ORPHAN = "ORPHAN"                # shares no live worker owned, adopted and sold


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask a broker to do. ``client_order_id`` is ours and is stored before sending."""

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int
    limit_price: int | None = None   # won, on a valid tick; None for MARKET


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The broker accepted the order and gave it its own id (KIS: ODNO + branch)."""

    client_order_id: str
    broker_order_id: str
    broker_branch: str | None
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The broker's view of one order, cumulative (KIS inquire-daily-ccld semantics)."""

    broker_order_id: str
    symbol: str
    side: Side
    qty: int
    filled_qty: int
    filled_amount: int               # won, sum(price * qty) over all fills so far
    remaining_qty: int
    cancelled_qty: int
    rejected_qty: int
    ordered_at: datetime
    # ours, echoed by a broker that keeps it (the simulator in process); None when the broker
    # has none (KIS) or the order carried none (a person's, placed by hand)
    client_order_id: str | None = None

    @property
    def avg_price(self) -> Decimal | None:
        if self.filled_qty == 0:
            return None
        return Decimal(self.filled_amount) / Decimal(self.filled_qty)

    @property
    def is_done(self) -> bool:
        return self.remaining_qty == 0
