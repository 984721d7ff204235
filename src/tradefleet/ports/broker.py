"""The broker as the worker needs it. Implemented by the in-process simulated market
(adapters/sim) and by the KIS REST client (adapters/kis). Errors are those of domain.errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from tradefleet.domain.market import Balance, Bar, Quote
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, Side


@runtime_checkable
class BrokerPort(Protocol):
    async def authenticate(self) -> datetime | None:
        """Make sure a valid token exists; return its expiry (None if the broker has none)."""
        ...

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Quotes for many symbols; the adapter batches (KIS: 30 per call). Missing = absent."""
        ...

    async def get_minute_bars(self, symbol: str, count: int) -> list[Bar]:
        """Today's last ``count`` one-minute bars, oldest first."""
        ...

    async def place_order(self, request: OrderRequest) -> OrderAck:
        """Send once. Raises OrderRejected, RateLimited (the gateway's EGW00201 that outlived
        the adapter's resends of the same request) or AuthError (no token, or refused before
        routing): nothing at the exchange; or AmbiguousOrderOutcome (may be at the exchange:
        the caller must never resend, only reconcile)."""
        ...

    async def get_order(self, broker_order_id: str, trading_day: date) -> OrderReport | None:
        """Cumulative status of one order we know the broker id of."""
        ...

    async def find_orders(
        self, trading_day: date, symbol: str, side: Side, since: datetime
    ) -> list[OrderReport]:
        """Orders of the account for symbol/side placed at or after ``since`` (reconciliation
        of ambiguous sends, where only symbol/side/qty/time identify an order)."""
        ...

    async def cancel_order(self, broker_order_id: str, broker_branch: str | None) -> None:
        """Cancel the unfilled remainder of an order (all of it)."""
        ...

    async def modify_order(self, broker_order_id: str, broker_branch: str | None, *,
                           price: int, qty: int | None = None) -> OrderAck:
        """정정 to limit ``price``: the unfilled remainder (``qty`` None) or ``qty`` of it moves
        to a NEW broker order id (the ack's; its ``client_order_id`` is empty, a modify
        carries none). Filled shares cannot change. Raises OrderRejected (nothing changed,
        e.g. KIS APBK0415 when nothing is left to modify) or AmbiguousOrderOutcome (the modify
        may have happened: never resend, reconcile)."""
        ...

    async def get_balance(self) -> Balance:
        ...

    async def get_buyable_qty(self, symbol: str, price: int | None) -> int:
        """Shares buyable now; ``price`` None = market order (KIS reserves at the upper limit)."""
        ...
