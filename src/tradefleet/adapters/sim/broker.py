"""``SimBroker``: the async ``BrokerPort`` over a ``SimMarket``, where injected faults are
acted out (latency and timeouts sleep in real seconds; the engine itself never sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TypeVar

from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    BrokerTimeout,
    BrokerUnavailable,
    OrderRejected,
)
from tradefleet.domain.market import Balance, Bar, Quote
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, OrderType, Side

T = TypeVar("T")
# the order POSTs: an answer lost after the broker acted leaves an order we cannot name
_ORDER_SENDS = frozenset({"place_order", "modify_order"})


class SimBroker:
    def __init__(self, market: SimMarket) -> None:
        self.market = market

    async def _call(self, operation: str, action: Callable[[], T]) -> T:
        fault = self.market.faults.take(operation)
        if fault is None:
            return action()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        match fault.kind:
            case "latency":
                return action()
            case "timeout":
                raise BrokerTimeout(f"{operation}: simulated timeout")
            case "error":
                raise BrokerUnavailable(f"{operation}: simulated broker failure")
            case "reject":
                raise OrderRejected(fault.code, fault.message)
            case _:   # drop_after_accept: the broker acted, the answer was lost
                action()
                if operation in _ORDER_SENDS:
                    raise AmbiguousOrderOutcome(f"{operation}: accepted, response lost")
                raise BrokerTimeout(f"{operation}: response lost")

    async def authenticate(self) -> datetime | None:
        return await self._call("authenticate", lambda: None)

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return await self._call("get_quotes", lambda: self.market.quotes(list(symbols)))

    async def get_minute_bars(self, symbol: str, count: int) -> list[Bar]:
        return await self._call("get_minute_bars",
                               lambda: self.market.minute_bars(symbol, count))

    async def place_order(self, request: OrderRequest) -> OrderAck:
        return await self._call("place_order", lambda: self.market.submit(request))

    async def get_order(self, broker_order_id: str, trading_day: date) -> OrderReport | None:
        def action() -> OrderReport | None:
            if trading_day != self.market.day:
                return None
            return self.market.report(broker_order_id)
        return await self._call("get_order", action)

    async def find_orders(self, trading_day: date, symbol: str, side: Side,
                          since: datetime) -> list[OrderReport]:
        def action() -> list[OrderReport]:
            if trading_day != self.market.day:
                return []
            return self.market.find(symbol, side, since)
        return await self._call("find_orders", action)

    async def cancel_order(self, broker_order_id: str, broker_branch: str | None) -> None:
        await self._call("cancel_order", lambda: self.market.cancel(broker_order_id))

    async def modify_order(self, broker_order_id: str, broker_branch: str | None, *,
                           price: int, qty: int | None = None) -> OrderAck:
        return await self._call("modify_order", lambda: self.market.modify(
            broker_order_id, price=price, qty=qty, all_qty=qty is None,
            order_type=OrderType.LIMIT))

    async def get_balance(self) -> Balance:
        return await self._call("get_balance", self.market.balance)

    async def get_buyable_qty(self, symbol: str, price: int | None) -> int:
        return await self._call("get_buyable_qty",
                               lambda: self.market.buyable_qty(symbol, price))
