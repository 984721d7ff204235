"""``SimBroker``: the async ``BrokerPort`` over a ``SimMarket``, where injected faults are
acted out (latency and timeouts sleep in real seconds; the engine itself never sleeps).

Each fault raises what ``KisBroker`` raises for the same answer on the wire, so an in-process
test meets the errors production code meets: an order operation that times out, gets a 5xx,
is rate limited or loses its answer is ``AmbiguousOrderOutcome`` (the KIS client cannot tell
whether it reached the exchange); reads get ``BrokerTimeout`` / ``BrokerUnavailable`` /
``RateLimited``; a failed token issue is ``AuthError``. In process a timeout or hang waits
``delay`` seconds (default none: there is no client timeout to outlast).

Unlike KIS, its reports echo the client order id an order was placed with (None for one
placed without, as a person's by hand), so the lookup's preference for our own id is
exercised in process; over HTTP the simulator answers as KIS does, without it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TypeVar

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.faults import ORDER_OPERATIONS, Fault
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    AuthError,
    BrokerError,
    BrokerTimeout,
    BrokerUnavailable,
    OrderRejected,
    RateLimited,
    TokenIssueThrottled,
)
from tradefleet.domain.market import Balance, Bar, Quote
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, OrderType, Side

T = TypeVar("T")
ORDER_RATE_LIMIT_RESENDS = 3        # KisConfig.order_rate_limit_retries
NOTHING_TO_CANCEL = "APBK0415"      # KisBroker treats this rejection of a cancel as done


class SimBroker:
    def __init__(self, market: SimMarket, *, appkey: str | None = None,
                 worker: str | None = None) -> None:
        """``appkey`` / ``worker`` are what per-appkey / per-worker fault rules match."""
        self.market = market
        self.appkey = appkey
        self.worker = worker
        self.echo_client_ids = True       # False: reports carry no client id, as KIS's do

    async def _call(self, operation: str, action: Callable[[], T]) -> T:
        fault = self._take(operation)
        if fault is not None and fault.kind == "rate_limit" and operation in ORDER_OPERATIONS:
            # as KisClient: the gateway refused before the order system saw it, so the same
            # request is resent a few times; a limit that persists is definite
            for _ in range(ORDER_RATE_LIMIT_RESENDS):
                fault = self._take(operation)
                if fault is None or fault.kind != "rate_limit":
                    break
            else:
                raise RateLimited(f"{operation}: rate limited (EGW00201) after "
                                  f"{ORDER_RATE_LIMIT_RESENDS} resends; nothing reached the "
                                  "exchange")
        if fault is None:
            return action()
        delay = fault.delay or 0.0
        if fault.kind in ("latency", "timeout"):
            await asyncio.sleep(delay)
        match fault.kind:
            case "latency":
                return action()
            case "reject":
                raise OrderRejected(fault.reject_code, fault.reject_message)
            case "drop_after_accept":
                action()
                raise _failure(operation, fault, "the answer was lost after the broker acted")
            case "hang_after_accept":
                result = action()
                await asyncio.sleep(delay)
                return result
            case _:       # timeout, error, rate_limit: the broker did not act
                raise _failure(operation, fault, f"simulated {fault.kind}")

    def _take(self, operation: str) -> Fault | None:
        return self.market.faults.take(operation, appkey=self.appkey, worker=self.worker)

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
            return self.market.report(broker_order_id, echo_client_id=self.echo_client_ids)
        return await self._call("get_order", action)

    async def find_orders(self, trading_day: date, symbol: str, side: Side,
                          since: datetime) -> list[OrderReport]:
        def action() -> list[OrderReport]:
            if trading_day != self.market.day:
                return []
            return self.market.find(symbol, side, since,
                                    echo_client_id=self.echo_client_ids)
        return await self._call("find_orders", action)

    async def cancel_order(self, broker_order_id: str, broker_branch: str | None) -> None:
        try:
            await self._call("cancel_order", lambda: self.market.cancel(broker_order_id))
        except OrderRejected as exc:
            if exc.code != NOTHING_TO_CANCEL:      # as KisBroker: already done is a no-op
                raise

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


def _failure(operation: str, fault: Fault, what: str) -> BrokerError:
    """The error ``KisBroker`` raises for this fault's answer on the wire."""
    text = f"{operation}: {what}"
    if operation in ORDER_OPERATIONS:
        return AmbiguousOrderOutcome(text)
    if operation == "authenticate":
        if fault.kind == "timeout":
            return BrokerTimeout(text)
        if fault.kind == "drop_after_accept":
            return BrokerUnavailable(text)
        if fault.kind == "rate_limit":  # EGW00133: one token a minute
            return TokenIssueThrottled.until(60.0, datetime.now(SEOUL), text)
        return AuthError(text)          # 5xx: the issue was refused
    if fault.kind == "timeout":
        return BrokerTimeout(text)
    if fault.kind == "rate_limit":
        return RateLimited(text)
    return BrokerUnavailable(text)      # error, or the connection cut after acting
