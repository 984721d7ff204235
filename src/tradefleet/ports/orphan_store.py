"""What the account reconciliation needs from storage: positions whose owner is no longer
live, and the database's view of the account per symbol, to compare with the broker's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from tradefleet.domain.events import Event
from tradefleet.domain.locks import Lock
from tradefleet.ports.trade_store import PositionRow


@dataclass(frozen=True, slots=True)
class SymbolBook:
    """Our rows for one symbol today: shares in OPEN positions, BUY shares our orders could
    have bought (filled_qty of a row whose final fill is known, its quantity while open,
    UNKNOWN or EXPIRED), SELL quantity recorded as filled, and whether any order on it is
    still open."""

    symbol: str
    open_qty: int
    bought_ordered_qty: int
    sold_filled_qty: int
    open_orders: int


class OrphanStore(Protocol):
    async def orphan_positions(self) -> list[PositionRow]:
        """OPEN positions whose owner is not live (EXIT, or heartbeat older than its TTL by
        the database clock) and with no open order on the symbol, oldest first."""
        ...

    async def adopt(self, position_id: int, lock: Lock) -> tuple[PositionRow | None, list[Event]]:
        """Move the position to the lock's worker, if its owner is still not live."""
        ...

    async def symbol_books(self, trading_day: date, symbols: Sequence[str] | None = None
                           ) -> dict[str, SymbolBook]:
        """Per symbol our orders touched today (only ``symbols``' when given)."""
        ...

    async def insert_stray(self, lock: Lock, trading_day: date, qty: int, amount: int
                           ) -> tuple[PositionRow, list[Event]]:
        """An OPEN position for shares the broker holds that no row of ours accounts for."""
        ...
