"""``SimMarket``: a deterministic, synchronous simulated KRX market and one account.

The market state is a function of the clock: every public call first steps the tape in fixed
``STEP_SECONDS`` sim-time steps from the open up to ``clock.now()`` (capped at the close), so
the same seed read at the same sim times gives the same quotes and bars. No asyncio in here:
the async ``SimBroker`` and the HTTP simulator wrap this API. Calls are serialised by a lock
so the HTTP server may call from several threads.

Order rules (stated because real KRX/KIS differ in detail):
- Orders and cancels are accepted only in the regular session [open, close) → else APBK0918.
  The closing call auction is not modelled; trading is continuous up to the close.
- MARKET orders walk the book up to ``book.LEVELS`` levels and are immediate-or-cancel:
  whatever the book cannot fill at once is cancelled (``cancelled_qty``).
- LIMIT orders fill at once as far as marketable; the rest rests and fills at its limit price
  on later steps whose last price crosses it (up to one level's depth per step). Resting
  orders expire (cancelled) at the close.
- Buys reserve cash (market buys at the upper limit); APBK0952 when it is short. Sells above
  sellable holdings → APBK0400. Cancelling an order that is already done is a no-op.
- Modify (정정) moves the unfilled remainder (or part of it) to a NEW order id linked to the
  original, as KIS does; the new order is checked and matched like any new order. Modifying
  an order with nothing left (filled, cancelled or expired) → APBK0415, as KIS answers
  "정정/취소할 수량이 없습니다"; a buy whose new price needs more cash than is free → APBK0952.

The exchange's books (``books()``: every execution with its sim time, holdings, the symbol
list with markets) are what tests check our own rows against."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import numpy as np

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.sim import book, ticks
from tradefleet.adapters.sim.faults import FaultPlan
from tradefleet.adapters.sim.fundamentals import Fundamentals, build_fundamentals
from tradefleet.adapters.sim.ledger import Books, Execution, Holdings, SymbolInfo
from tradefleet.adapters.sim.orders import (
    BAD_ORDER,
    INSUFFICIENT_CASH,
    NOTHING_TO_MODIFY,
    OFF_TICK,
    OUTSIDE_HOURS,
    UNKNOWN_ORDER,
    UNKNOWN_SYMBOL,
    Account,
    SimOrder,
)
from tradefleet.adapters.sim.price_path import Tape
from tradefleet.adapters.sim.quote_rows import StepQuoteRows
from tradefleet.adapters.sim.universe import STEP_SECONDS, Universe, build_universe
from tradefleet.domain.errors import OrderRejected
from tradefleet.domain.market import Balance, Bar, Quote
from tradefleet.domain.orders import OrderAck, OrderReport, OrderRequest, OrderType, Side
from tradefleet.ports.clock import Clock

BRANCH = "00950"


class SimMarket:
    def __init__(self, seed: int, *, n_symbols: int, clock: Clock,
                 initial_cash: int = 100_000_000, day: date | None = None,
                 session_open: time = time(9, 0), session_close: time = time(15, 30),
                 account_label: str = "sim",
                 opening_holdings: Mapping[str, int] | None = None,
                 recorded: tuple[Universe, Tape] | None = None) -> None:
        """``opening_holdings``: symbol -> shares the account holds before the day (bought
        earlier at the previous close, say a person's own investments). ``recorded``: the
        universe and tape of a recorded day (``replay.recorded_tape``) instead of the ones
        the seed draws: the same matching over recorded prices (the replay exchange)."""
        self.seed = seed
        self.clock = clock
        self.day = day or clock.now().astimezone(SEOUL).date()
        self.open_at = datetime.combine(self.day, session_open, tzinfo=SEOUL)
        self.close_at = datetime.combine(self.day, session_close, tzinfo=SEOUL)
        if self.close_at <= self.open_at:
            raise ValueError("session_close: must be after session_open")
        self._max_steps = int((self.close_at - self.open_at).total_seconds()) // STEP_SECONDS
        self.universe = build_universe(seed, n_symbols) if recorded is None else recorded[0]
        self._index = {s: i for i, s in enumerate(self.universe.symbols)}
        self._tape = Tape(seed, self.universe, n_minutes=-(-self._max_steps * STEP_SECONDS // 60)
                          ) if recorded is None else recorded[1]
        self.initial_cash = initial_cash
        self.account = Account(initial_cash, account_label)
        for symbol, qty in sorted((opening_holdings or {}).items()):
            if symbol not in self._index:
                raise ValueError(f"opening_holdings (--holding): unknown symbol {symbol!r}")
            price = int(self.universe.prev_close[self._index[symbol]])
            self.account.seed_holding(symbol, qty, qty * price)
        self.fundamentals: dict[str, Fundamentals] = build_fundamentals(seed, self.universe,
                                                                         self.day)
        self.faults = FaultPlan(seed)
        self._orders: dict[str, SimOrder] = {}
        self._resting: list[SimOrder] = []
        self._expired = False
        self._lock = threading.RLock()
        self._quote_rows = StepQuoteRows(self.universe, self._tape, self._index)

    # ---- time -------------------------------------------------------------------------
    def _advance(self) -> datetime:
        now = self.clock.now()
        elapsed = (now - self.open_at).total_seconds()
        target = min(max(0, int(elapsed // STEP_SECONDS)), self._max_steps)
        while self._tape.steps < target:
            self._tape.step()
            if self._resting:
                self._match_resting(self.open_at
                                    + timedelta(seconds=self._tape.steps * STEP_SECONDS))
        if now >= self.close_at and not self._expired:
            for order in self._resting:
                self.account.cancel_rest(order)
            self._resting.clear()
            self._expired = True
        return now

    def is_open(self, at: datetime) -> bool:
        return self.open_at <= at < self.close_at

    # ---- market data -------------------------------------------------------------------
    def symbols(self) -> list[str]:
        return list(self.universe.symbols)

    def _idx(self, symbol: str) -> int:
        try:
            return self._index[symbol]
        except KeyError:
            raise OrderRejected(UNKNOWN_SYMBOL, f"symbol: unknown {symbol!r}") from None

    def quote(self, symbol: str) -> Quote:
        self._idx(symbol)                      # unknown symbol -> APBK0656
        return self.quotes([symbol])[symbol]

    def quotes(self, symbols: list[str] | tuple[str, ...] | None = None) -> dict[str, Quote]:
        """Quotes for many symbols at once (None = all); unknown symbols are left out."""
        with self._lock:
            now = self._advance()
            names = self.universe.symbols if symbols is None else \
                [s for s in symbols if s in self._index]
            rows = self._quote_rows.rows(names)   # the numpy work once per tape step
            return {s: Quote(s, *rows[s], now) for s in names}

    def minute_bars(self, symbol: str, count: int) -> list[Bar]:
        """Today's last ``count`` one-minute bars, oldest first (the last may be in progress)."""
        with self._lock:
            self._advance()
            i = self._idx(symbol)
            t = self._tape
            end = t.minutes_started()
            start = max(0, end - max(0, count))
            # whole columns to Python ints at once (an element read of a numpy array costs
            # as much as a column's .tolist() of a day's minutes; replay reads bars per poll)
            rows = zip(range(start, end), t.bar_open[start:end, i].tolist(),
                       t.bar_high[start:end, i].tolist(), t.bar_low[start:end, i].tolist(),
                       t.bar_close[start:end, i].tolist(), t.bar_volume[start:end, i].tolist(),
                       strict=True)
            return [Bar(symbol, self.open_at + timedelta(minutes=m), o, h, lo, c, v)
                    for m, o, h, lo, c, v in rows]

    def minute_values(self, symbol: str, count: int) -> list[int]:
        """Accumulated traded value (won) at the end of each bar ``minute_bars`` returns."""
        return [v for _, v in self.minute_bars_with_values(symbol, count)]

    def minute_bars_with_values(self, symbol: str, count: int) -> list[tuple[Bar, int]]:
        """``minute_bars`` paired with ``minute_values``, read under one lock: two separate
        calls can straddle a clock step and return lists of different lengths."""
        with self._lock:
            bars = self.minute_bars(symbol, count)
            end = self._tape.minutes_started()
            start = max(0, end - max(0, count))
            acc = np.cumsum(self._tape.bar_value[:end, self._idx(symbol)])
            return list(zip(bars, (int(v) for v in acc[start:end]), strict=True))

    def book_levels(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(asks, bids), best first: the ``book.LEVELS`` levels per side that orders fill
        against, each (price, shares resting); levels beyond a daily limit are left out."""
        return self.quote_with_book(symbol)[1:]

    def quote_with_book(self, symbol: str) -> tuple[Quote, list[tuple[int, int]],
                                                    list[tuple[int, int]]]:
        """The quote and the book levels at the same step (one advance for both)."""
        with self._lock:
            q = self.quote(symbol)
            i = self._index[symbol]
            u = self.universe
            bid, ask = book.best_bid_ask(self._tape.price[i:i + 1], u.spread_ticks[i:i + 1],
                                         u.lower_limit[i:i + 1], u.upper_limit[i:i + 1])
            depth, lo, hi = int(u.depth[i]), int(u.lower_limit[i]), int(u.upper_limit[i])
            sides: list[list[tuple[int, int]]] = []
            for best, way in ((int(ask[0]), 1), (int(bid[0]), -1)):
                levels: list[tuple[int, int]] = []
                price = np.array([best], dtype=np.int64)
                while best > 0 and len(levels) < book.LEVELS and lo <= int(price[0]) <= hi:
                    levels.append((int(price[0]), depth))
                    price = ticks.step_ticks(price, way)
                sides.append(levels)
            return q, sides[0], sides[1]

    # ---- orders ------------------------------------------------------------------------
    def submit(self, order: OrderRequest) -> OrderAck:
        with self._lock:
            now = self._advance()
            if not self.is_open(now):
                raise OrderRejected(OUTSIDE_HOURS, "장운영시간이 아닙니다.(주문불가)")
            i = self._idx(order.symbol)
            self._validate(order, i)
            sim = self._enter(order, i, now, None)
            return OrderAck(order.client_order_id, sim.broker_order_id, BRANCH, now)

    def _reserve(self, order: OrderRequest, i: int) -> int:
        """Won per share a buy holds back: its limit, or the upper limit for a market buy."""
        if order.side is not Side.BUY:
            return 0
        if order.order_type is OrderType.LIMIT:
            return int(order.limit_price or 0)
        return int(self.universe.upper_limit[i])

    def _enter(self, order: OrderRequest, i: int, now: datetime,
               original: str | None) -> SimOrder:
        sim = SimOrder(f"{len(self._orders) + 1:010d}", order.client_order_id, order.symbol, i,
                       order.side, order.order_type, order.qty, order.limit_price,
                       self._reserve(order, i), now, original_odno=original)
        self.account.hold(sim)
        self._orders[sim.broker_order_id] = sim
        self._match_on_entry(sim)
        return sim

    def _validate(self, order: OrderRequest, i: int) -> None:
        if order.qty <= 0:
            raise OrderRejected(BAD_ORDER, f"qty: must be > 0, got {order.qty}")
        if order.order_type is OrderType.MARKET:
            if order.limit_price is not None:
                raise OrderRejected(BAD_ORDER, "limit_price: must be None for MARKET")
            return
        p = order.limit_price
        if p is None or p <= 0:
            raise OrderRejected(BAD_ORDER, f"limit_price: must be > 0, got {p!r}")
        if not ticks.is_valid_tick(p):
            raise OrderRejected(OFF_TICK, f"주식주문호가단위 오류 (limit_price: not a valid "
                                          f"tick: {p})")
        lo, hi = int(self.universe.lower_limit[i]), int(self.universe.upper_limit[i])
        if not lo <= p <= hi:
            raise OrderRejected(BAD_ORDER, f"limit_price: {p} outside daily limits {lo}..{hi}")

    def _match_on_entry(self, order: SimOrder) -> None:
        u, i = self.universe, order.index
        bid, ask = book.best_bid_ask(self._tape.price[i:i + 1], u.spread_ticks[i:i + 1],
                                     u.lower_limit[i:i + 1], u.upper_limit[i:i + 1])
        buy = order.side is Side.BUY
        if order.order_type is OrderType.MARKET:
            worst = int(u.upper_limit[i] if buy else u.lower_limit[i])
        else:
            worst = int(order.limit_price or 0)
        best = int(ask[0] if buy else bid[0])
        for price, qty in book.walk(best, buy, int(u.depth[i]), order.remaining, worst):
            self.account.fill(order, price, qty, order.ordered_at)
        if order.remaining:
            if order.order_type is OrderType.MARKET:
                self.account.cancel_rest(order)       # immediate-or-cancel
            else:
                self._resting.append(order)

    def _match_resting(self, at: datetime) -> None:
        price = self._tape.price
        depth = self.universe.depth
        still: list[SimOrder] = []
        for order in self._resting:
            last = int(price[order.index])
            limit = int(order.limit_price or 0)
            crossed = last <= limit if order.side is Side.BUY else last >= limit
            if crossed:
                self.account.fill(order, limit, min(order.remaining, int(depth[order.index])),
                                  at)
            if order.remaining:
                still.append(order)
        self._resting = still

    def report(self, broker_order_id: str, *, echo_client_id: bool = False
               ) -> OrderReport | None:
        with self._lock:
            self._advance()
            order = self._orders.get(broker_order_id)
            return order.to_report(echo_client_id=echo_client_id) if order else None

    def find(self, symbol: str, side: Side, since: datetime, *,
             echo_client_id: bool = False) -> list[OrderReport]:
        with self._lock:
            self._advance()
            return [o.to_report(echo_client_id=echo_client_id) for o in self._orders.values()
                    if o.symbol == symbol and o.side is side and o.ordered_at >= since]

    def cancel(self, broker_order_id: str) -> None:
        with self._lock:
            now = self._advance()
            order = self._orders.get(broker_order_id)
            if order is None:
                raise OrderRejected(UNKNOWN_ORDER, f"broker_order_id: unknown {broker_order_id}")
            if order.remaining == 0:
                return
            if not self.is_open(now):
                raise OrderRejected(OUTSIDE_HOURS, "장운영시간이 아닙니다.(주문불가)")
            self.account.cancel_rest(order)
            self._resting = [o for o in self._resting if o is not order]

    def modify(self, broker_order_id: str, *, price: int | None, qty: int | None = None,
               all_qty: bool = True, order_type: OrderType = OrderType.LIMIT) -> OrderAck:
        """정정: take the whole unfilled remainder (``all_qty``) or ``qty`` of it off the
        original and enter it as a NEW order at ``price`` (``order_type`` MARKET: price None,
        immediate-or-cancel). Every check runs before anything changes, so a rejection leaves
        the original as it was. The ack's client id is empty: a modify carries none."""
        with self._lock:
            now = self._advance()
            if not self.is_open(now):
                raise OrderRejected(OUTSIDE_HOURS, "장운영시간이 아닙니다.(주문불가)")
            orig = self._orders.get(broker_order_id)
            if orig is None:
                raise OrderRejected(UNKNOWN_ORDER, f"broker_order_id: unknown {broker_order_id}")
            if orig.remaining == 0:
                raise OrderRejected(NOTHING_TO_MODIFY, "정정/취소할 수량이 없습니다.")
            moved = orig.remaining if all_qty else (qty or 0)
            if not 0 < moved <= orig.remaining:
                raise OrderRejected(BAD_ORDER, f"qty: {qty} outside the modifiable remainder "
                                               f"1..{orig.remaining}")
            new = OrderRequest(orig.client_order_id, orig.symbol, orig.side, order_type, moved,
                               price)
            self._validate(new, orig.index)
            extra = moved * (self._reserve(new, orig.index) - orig.reserve_price)
            if extra > self.account.orderable_cash:
                raise OrderRejected(INSUFFICIENT_CASH,
                                    f"주문가능금액을 초과 했습니다 (need {extra} more, "
                                    f"orderable {self.account.orderable_cash})")
            self.account.cancel_qty(orig, moved)
            self._resting = [o for o in self._resting if o.remaining]
            sim = self._enter(new, orig.index, now, orig.broker_order_id)
            return OrderAck("", sim.broker_order_id, BRANCH, now)

    # ---- account -----------------------------------------------------------------------
    def balance(self) -> Balance:
        with self._lock:
            self._advance()
            return self.account.balance()

    def buyable_qty(self, symbol: str, price: int | None) -> int:
        """Shares buyable with orderable cash; ``price`` None = market (upper-limit basis)."""
        with self._lock:
            self._advance()
            i = self._idx(symbol)
            basis = int(self.universe.upper_limit[i]) if price is None else int(price)
            if basis <= 0:
                raise ValueError(f"price: must be > 0, got {price}")
            return max(0, self.account.orderable_cash // basis)

    # ---- the exchange's books ------------------------------------------------------------
    def executions(self) -> list[Execution]:
        """Every execution so far, in the order it happened (sim time, KST)."""
        with self._lock:
            self._advance()
            return list(self.account.executions)

    def holdings(self) -> Holdings:
        with self._lock:
            self._advance()
            acc = self.account
            return Holdings(acc.label, acc.cash, acc.orderable_cash, acc.positions())

    def symbol_infos(self) -> list[SymbolInfo]:
        u = self.universe
        return [SymbolInfo(s, u.name_of(s), m) for s, m in zip(u.symbols, u.markets,
                                                                strict=True)]

    def books(self) -> Books:
        with self._lock:
            return Books(tuple(self.executions()), self.holdings(),
                         tuple(self.symbol_infos()))
