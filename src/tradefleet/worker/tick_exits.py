"""Exits decided on the tick: every trade of the held symbol that the account's feed pushes
is judged by the same exit rules as the poll (stop-loss, take-profit, trend break, the time
exit), and a triggered exit sells through the cycle's own sell (``TradingCycle.sell``): the
order row before the send, the lock's fencing token in the guarded insert, the lease and the
database fence before the wire.

Tick and poll never both sell one position: a decision on the tick waits for the cycle's
turn (``TradingCycle.turn``, the lock every poll holds) and, once it has it, looks again at
what is held (the poll may have sold it, or be following an order on it) before it judges
the tick. Liquidation and orphans stay with the poll.

A tick that the price alone does not decide needs the trend's average of closed minute bars,
read by REST once a minute. That read waits for a place in the account's budget (at 20
workers it took up to 3 s), so it runs beside the judging: a tick waiting for it gives way
as soon as a newer tick is heard, and the newer one is judged at once (a stop on its price
alone, without waiting for the bars). Ticks are judged one at a time, so before this a stop
crossed during the read waited for its end.

When the feed is not live (holder down, stale, listener lost) nothing changes for the money:
the poll decides as before. The change of mode is said once, in a log line and through
``on_mode`` (the worker's ``tradefleet_feed_live`` gauge)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from tradefleet.domain.exits import ExitDecision, ExitParams, evaluate_exit
from tradefleet.domain.orders import OrderPurpose
from tradefleet.domain.states import WorkerStatus
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.feed import FeedState, PriceTick, TickFeed
from tradefleet.worker.cycle import TradingCycle
from tradefleet.worker.tick_cover import session_minute

ONE_MINUTE = timedelta(minutes=1)
# exits judged on the price alone that outrank the trend (domain/exits.py's priority)
PRICE_FIRST = (OrderPurpose.STOP_LOSS, OrderPurpose.TAKE_PROFIT)
GAVE_WAY = object()     # a tick left unjudged on its trend: a newer one came during the read


class TickExits:
    def __init__(self, cycle: TradingCycle, feed: TickFeed, broker: BrokerPort,
                 exits: ExitParams, clock: Clock, *, may_trade: Callable[[], bool],
                 on_mode: Callable[[bool], None] | None = None,
                 follow_s: float = 0.05) -> None:
        """``may_trade``: the worker's lease (nothing is decided while it lapsed, as no poll
        runs then); ``follow_s``: real seconds between two looks at what is held."""
        self._cycle = cycle
        self._feed = feed
        self._broker = broker
        self._exits = exits
        self._clock = clock
        self._may_trade = may_trade
        self._on_mode = on_mode
        self._follow_s = follow_s
        self._ticks: asyncio.Queue[PriceTick] = asyncio.Queue()
        self._watched: str | None = None
        self._unheld: PriceTick | None = None   # the last tick heard before its position
        self._live: bool | None = None
        self._ma: tuple[str, object, Decimal | None] | None = None   # (symbol, minute, ma)
        self._bars: tuple[tuple[str, datetime], asyncio.Task[Decimal | None]] | None = None
        self._queued = asyncio.Event()      # a tick waits in the queue
        self.decided = 0          # ticks judged
        self.sold: list[OrderPurpose] = []
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=cycle.worker_id)

    @property
    def live(self) -> bool:
        return bool(self._live)

    def heard(self, tick: PriceTick) -> None:
        """The feed's handler: the tick is queued, and a tick waiting for its trend's bars
        learns that a newer price came."""
        self._ticks.put_nowait(tick)
        self._queued.set()

    async def run(self) -> None:
        """Until cancelled: follow what is held, judge each tick of it."""
        try:
            while True:
                await self.follow()
                tick = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._follow_s):
                        tick = await self._ticks.get()
                if tick is None:
                    continue
                if self._ticks.empty():
                    self._queued.clear()
                try:
                    await self.on_tick(tick, give_way=True)
                except Exception as exc:  # noqa: BLE001 - the poll remains the safety net
                    self._log.error("exit on the tick failed; the poll decides",
                                    error_type=type(exc).__name__, error=str(exc),
                                    exc_info=True)
        finally:
            if self._bars is not None:
                self._bars[1].cancel()

    async def follow(self) -> None:
        """Watch the held symbol's ticks (and only it), and say when the mode changes.

        The symbol an entry has locked is watched from its lock on, and the poll's turn
        keeps it watched until its position is taken: the account's holder registers a
        symbol once it is locked, so the first ticks after the buy's fill would otherwise
        go unheard. The last tick heard before the position is judged once it is held."""
        cycle = self._cycle
        held = cycle.holding
        symbol = held.lock.symbol if held is not None and held.position_id else None
        if symbol is None:
            symbol = cycle.paths.entry.entering
        if symbol is None and self._watched is not None and cycle.turn.locked():
            symbol = self._watched      # a poll between its entry and its position
        if symbol != self._watched:
            self._unheld = None
            if self._watched is not None:
                await self._feed.unwatch(self._watched)
            if symbol is not None:
                await self._feed.watch(symbol, self.heard)
            self._watched = symbol
        unheld = self._unheld
        if unheld is not None and held is not None and held.position_id \
                and held.lock.symbol == unheld.symbol:
            self._unheld = None
            self._ticks.put_nowait(unheld)      # the price as the position was taken
            self._queued.set()
        state, why = self._feed.state()
        live = state is FeedState.LIVE
        if not live:
            self._cycle.watch.ticks.lapse()    # the poll reads by REST again
        if live != self._live:
            self._live = live
            if live:
                self._log.info("feed live: exits decided on each tick", why=why)
            else:
                self._log.warning("feed not live: exits decided on the poll only",
                                  feed_state=state.value, why=why)
            if self._on_mode is not None:
                self._on_mode(live)

    async def on_tick(self, tick: PriceTick, *, give_way: bool = False) -> OrderPurpose | None:
        """Judge one tick; the exit's reason when it sold (or tried to), else None.
        ``give_way``: a tick waiting for its trend's bars is left unjudged once a newer tick
        is queued (``run``; the newer price is judged instead).

        A tick is judged first on what is held as last seen, without the cycle's turn: most
        ticks cross nothing, and they neither queue behind a poll's broker calls nor cost a
        database read. Only a tick that crosses an exit waits for the turn, and is judged
        again there on what is held then (the poll may have sold it meanwhile)."""
        cycle = self._cycle
        held = cycle.holding
        if tick.symbol == self._watched and (held is None or not held.position_id
                                             or held.lock.symbol != tick.symbol):
            self._unheld = tick         # before its position: judged once it is (follow)
            return None
        if await self._judge(tick, give_way=give_way) is None:
            return None
        async with cycle.turn:
            held = cycle.holding
            if (held is None or cycle.status is not WorkerStatus.HOLD
                    or held.position_id == 0 or held.orphan
                    or held.lock.symbol != tick.symbol
                    or not self._may_trade() or cycle.liquidation_due()):
                return None             # nothing of ours to judge, or the poll's to do
            if any(o.symbol == tick.symbol for o in await cycle.paths.open_orders()):
                return None             # an order on it is being followed to its end
            decision = await self._judge(tick)
            if decision is None:
                return None
            self._log.info("exit condition met on the tick", symbol=tick.symbol,
                           reason=str(decision.reason), checks=decision.checks,
                           price=tick.price, tick_at=tick.at.isoformat())
            self.sold.append(decision.reason)
            await cycle.sell(decision.reason)
            return decision.reason

    async def _judge(self, tick: PriceTick, *, give_way: bool = False) -> ExitDecision | None:
        """The exit this tick crosses on the position held as seen now; None for no exit or
        nothing of ours (a decision without the turn is only a hint: see ``on_tick``), or
        for a tick that gave way to a newer one while its bars were read."""
        held = self._cycle.holding
        if held is None or held.position_id == 0 or held.lock.symbol != tick.symbol:
            return None
        self.decided += 1
        now = self._clock.now()
        on_price = evaluate_exit(entry_price=held.entry_price, price=tick.price, short_ma=None,
                                 now=now, liquidation_at=self._cycle.liquidation_at,
                                 params=self._exits)
        if on_price.reason in PRICE_FIRST:
            return on_price     # outranks the trend: no bar read on the way to the wire
        short_ma = await self._short_ma(tick, give_way=give_way)
        if short_ma is GAVE_WAY:
            return None
        known = self._ma is not None and self._ma[:2] == (tick.symbol, session_minute(tick.at))
        if self._live and known:
            # judged on a known average: the poll may judge on this tick (tick_cover.py)
            self._cycle.watch.ticks.judged(tick.symbol, tick.price, short_ma, tick.at)
        decision = evaluate_exit(
            entry_price=held.entry_price, price=tick.price,
            short_ma=short_ma, now=now,
            liquidation_at=self._cycle.liquidation_at, params=self._exits)
        return decision if decision.reason is not None else None

    async def _short_ma(self, tick: PriceTick, *, give_way: bool = False
                        ) -> Decimal | None | object:
        """The trend's moving average of closed minute bars, read once per minute (a bar
        closes once a minute; a tick does not change it). None when unknown; ``GAVE_WAY``
        when ``give_way`` and a newer tick was queued before the read's answer (the read
        goes on, and the newer tick uses it)."""
        minute = session_minute(tick.at)
        key = (tick.symbol, minute)
        if self._ma is not None and self._ma[:2] == key:
            return self._ma[2]
        if self._bars is None or self._bars[0] != key or self._bars[1].done():
            self._bars = (key, asyncio.create_task(self._read_ma(tick.symbol, minute)))
        read = self._bars[1]
        if give_way:
            queued = asyncio.ensure_future(self._queued.wait())
            try:
                await asyncio.wait((read, queued), return_when=asyncio.FIRST_COMPLETED)
            finally:
                queued.cancel()
            if not read.done():
                return GAVE_WAY
        return await asyncio.shield(read)

    async def _read_ma(self, symbol: str, minute: datetime) -> Decimal | None:
        """One read of the minute bars closed before ``minute``; the average is kept for
        the minute (a failed read is not: the next tick reads again)."""
        window = self._exits.trend_ma_window
        try:
            bars = await self._broker.get_minute_bars(symbol, window + 1)
        except Exception as exc:  # noqa: BLE001 - read beside the judging: no caller to raise to
            self._log.warning("bars unreadable; trend not judged on this tick",
                              symbol=symbol, error_type=type(exc).__name__, error=str(exc))
            return None
        closes = [b.close for b in bars if b.start + ONE_MINUTE <= minute][-window:]
        ma = Decimal(sum(closes)) / len(closes) if len(closes) == window else None
        if self._bars is not None and self._bars[0] == (symbol, minute):
            self._ma = (symbol, minute, ma)
        return ma
