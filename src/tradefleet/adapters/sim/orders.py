"""The one simulated account: cash, reservations, holdings and its orders.

Several workers share this account, as they share one real KIS account. Buys reserve cash
at submission (market buys at the upper limit, as KIS does) and the reservation is released
as fills or cancels happen; no fees or taxes are charged (the worker computes costs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradefleet.adapters.sim.ledger import BookHolding, Execution
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.market import Balance, Holding
from tradefleet.domain.orders import OrderReport, OrderType, Side

INSUFFICIENT_CASH = "APBK0952"      # KIS: 주문가능금액을 초과 했습니다
SELL_QTY_EXCEEDED = "APBK0400"      # sim code: sell qty above sellable holdings
OUTSIDE_HOURS = "APBK0918"          # KIS: 장운영시간이 아닙니다
UNKNOWN_SYMBOL = "APBK0656"         # KIS: symbol not found
BAD_ORDER = "SIM00001"              # sim code: malformed qty / price (field named in message)
OFF_TICK = "APBK0506"               # KIS: 주식주문호가단위 (limit price not on the tick grid)
UNKNOWN_ORDER = "SIM00002"          # sim code: cancel of an order id we never issued
NOTHING_TO_MODIFY = "APBK0415"      # KIS: 정정/취소할 수량이 없습니다 (order already done)


@dataclass
class SimOrder:
    broker_order_id: str
    client_order_id: str
    symbol: str
    index: int                      # position of the symbol in the universe arrays
    side: Side
    order_type: OrderType
    qty: int
    limit_price: int | None
    reserve_price: int              # won per share held back for a buy (0 for sells)
    ordered_at: datetime
    filled_qty: int = 0
    filled_amount: int = 0
    cancelled_qty: int = 0
    original_odno: str | None = None    # set on the order a modify (정정) created

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty - self.cancelled_qty

    def to_report(self, *, echo_client_id: bool = False) -> OrderReport:
        """The KIS-shaped report; ``echo_client_id`` adds our client order id, as a broker
        that keeps it (the in-process broker) answers. KIS has no such field."""
        return OrderReport(
            broker_order_id=self.broker_order_id, symbol=self.symbol, side=self.side,
            qty=self.qty, filled_qty=self.filled_qty, filled_amount=self.filled_amount,
            remaining_qty=self.remaining, cancelled_qty=self.cancelled_qty, rejected_qty=0,
            ordered_at=self.ordered_at,
            client_order_id=(self.client_order_id or None) if echo_client_id else None,
        )


class Account:
    def __init__(self, initial_cash: int, label: str = "sim") -> None:
        if initial_cash < 0:
            raise ValueError("initial_cash: must be >= 0")
        self.label = label              # how the books name the account (masked)
        self.executions: list[Execution] = []
        self.cash = initial_cash
        self.reserved = 0
        self._holdings: dict[str, list[int]] = {}     # symbol -> [qty, cost in won]
        self._selling: dict[str, int] = {}            # symbol -> qty in open sell orders

    @property
    def orderable_cash(self) -> int:
        return self.cash - self.reserved

    def sellable(self, symbol: str) -> int:
        return self._holdings.get(symbol, [0, 0])[0] - self._selling.get(symbol, 0)

    def seed_holding(self, symbol: str, qty: int, cost: int) -> None:
        """Shares the account held before the day (a person's own investments): no
        execution of today, so the books show them only as holdings."""
        if qty <= 0 or cost < 0:
            raise ValueError(f"opening holding of {symbol}: qty must be > 0 and cost >= 0, "
                             f"got {qty} and {cost}")
        position = self._holdings.setdefault(symbol, [0, 0])
        position[0] += qty
        position[1] += cost

    def hold(self, order: SimOrder) -> None:
        """Reserve what the order may consume, or reject it."""
        if order.side is Side.BUY:
            need = order.qty * order.reserve_price
            if need > self.orderable_cash:
                raise OrderRejected(INSUFFICIENT_CASH,
                                    f"주문가능금액을 초과 했습니다 (need {need}, "
                                    f"orderable {self.orderable_cash})")
            self.reserved += need
        else:
            if order.qty > self.sellable(order.symbol):
                raise OrderRejected(SELL_QTY_EXCEEDED,
                                    f"qty: {order.qty} exceeds sellable "
                                    f"{self.sellable(order.symbol)} of {order.symbol}")
            self._selling[order.symbol] = self._selling.get(order.symbol, 0) + order.qty

    def fill(self, order: SimOrder, price: int, qty: int, at: datetime) -> None:
        """``qty`` shares of ``order`` traded at ``price`` at sim time ``at``."""
        if qty <= 0:
            return
        self.executions.append(Execution(len(self.executions) + 1, order.broker_order_id,
                                         order.symbol, order.side, qty, price, at, self.label))
        amount = price * qty
        order.filled_qty += qty
        order.filled_amount += amount
        position = self._holdings.setdefault(order.symbol, [0, 0])
        if order.side is Side.BUY:
            self.reserved -= order.reserve_price * qty
            self.cash -= amount
            position[0] += qty
            position[1] += amount
        else:
            self._selling[order.symbol] -= qty
            self.cash += amount
            position[1] -= position[1] * qty // position[0]
            position[0] -= qty
            if position[0] == 0:
                del self._holdings[order.symbol]

    def cancel_rest(self, order: SimOrder) -> int:
        """Cancel the unfilled remainder and release what it held; returns the qty."""
        return self.cancel_qty(order, order.remaining)

    def cancel_qty(self, order: SimOrder, qty: int) -> int:
        """Cancel up to ``qty`` of the unfilled remainder (a partial modify moves only part
        of it) and release what that part held; returns the qty cancelled."""
        rest = min(qty, order.remaining)
        if rest <= 0:
            return 0
        order.cancelled_qty += rest
        if order.side is Side.BUY:
            self.reserved -= order.reserve_price * rest
        else:
            self._selling[order.symbol] -= rest
        return rest

    def positions(self) -> tuple[BookHolding, ...]:
        return tuple(BookHolding(symbol, qty, cost)
                     for symbol, (qty, cost) in sorted(self._holdings.items()))

    def balance(self) -> Balance:
        holdings = tuple(
            Holding(symbol, qty, Decimal(cost) / Decimal(qty))
            for symbol, (qty, cost) in sorted(self._holdings.items())
        )
        return Balance(cash=self.orderable_cash, holdings=holdings)
