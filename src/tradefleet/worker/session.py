"""The exchange's session as the worker trades it: which hours, from the KRX calendar with
its special-day overrides, and the two checks the worker makes before trading.

- A day KRX is closed (election, holiday, weekend): the worker says so — a WARN log line
  and a ``MarketClosedEvent`` — and exits 0 before authenticating or registering: there is
  no trading day to open, and registering would bump the worker's epoch, write a daily
  summary for a day that did not trade and ask the broker for a token for nothing.
- A day that opens late (10:00 on the CSAT day, the first day of the year): the registered
  worker waits, heartbeating but neither polling quotes nor ordering, until the open.

The regular 09:00-15:30 hours are assumed only in ``sim`` mode on a day the calendar does
not know (simulations on arbitrary dates). In paper or real mode such a day is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import structlog

from tradefleet.domain.calendar import (
    SEOUL,
    KrxCalendar,
    TradingSession,
    liquidation_time,
    regular_session,
)
from tradefleet.domain.errors import ConfigError
from tradefleet.domain.events import MarketClosedEvent
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink

# while waiting for the open, look at the clock at least this often (clock seconds), so a
# stop request, a simulated clock or a wall-clock jump are noticed in time
WAIT_SLICE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class MarketDay:
    """One trading day's hours; ``session`` None means the exchange is closed."""

    day: date
    session: TradingSession | None
    liquidation_at: datetime | None
    source: str                 # "KRX calendar" or "sim fallback 09:00-15:30"
    closed_reason: str = ""

    @property
    def closed(self) -> bool:
        return self.session is None

    @property
    def opens_at(self) -> datetime | None:
        return None if self.session is None else self.session.open

    @property
    def closes_at(self) -> datetime:
        """The close; on a closed day the day's first instant (nothing trades before it)."""
        if self.session is None:
            return datetime.combine(self.day, time(0), SEOUL)
        return self.session.close

    @property
    def liquidates_at(self) -> datetime:
        return self.liquidation_at if self.liquidation_at is not None else self.closes_at


def market_day(day: date, *, mode: str, liquidation_offset: timedelta,
               calendar: KrxCalendar) -> MarketDay:
    """The session the worker may trade on ``day``; ConfigError in paper/real mode when the
    calendar does not know the day (no guessed hours with real orders)."""
    if calendar.knows(day):
        session = calendar.session(day)
        if session is None:
            return MarketDay(day, None, None, "KRX calendar", calendar.closed_reason(day))
        return MarketDay(day, session, liquidation_time(session, liquidation_offset),
                         "KRX calendar")
    if mode != "sim":
        table = calendar.table
        raise ConfigError(
            f"trading day {day}: not in the KRX calendar ({table.library} covers "
            f"{table.first}..{table.last}); update exchange_calendars or add the day to the "
            f"calendar overrides. {mode} mode never trades on assumed hours")
    session = regular_session(day)
    return MarketDay(day, session, liquidation_time(session, liquidation_offset),
                     "sim fallback 09:00-15:30")


Sleep = Callable[[float], Awaitable[None]]


class SessionGate:
    """What the worker asks before trading: is the exchange open today, and has it opened."""

    def __init__(self, market: MarketDay | None, *, clock: Clock, sink: EventSink,
                 worker_id: str) -> None:
        self.market = market
        self._clock = clock
        self._sink = sink
        self._worker_id = worker_id
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=worker_id)

    async def closed_today(self) -> bool:
        """True (after saying so) when the exchange does not trade today."""
        market = self.market
        if market is None or not market.closed:
            return False
        await self._sink.publish(MarketClosedEvent(
            worker_id=self._worker_id, trading_day=market.day.isoformat(),
            reason=market.closed_reason))
        return True

    async def wait_for_open(self, sleep: Sleep, stopped: Callable[[], bool]) -> bool:
        """Sleep on the worker's clock until the open; False if a stop came first.
        ``sleep`` is the worker's interruptible sleep (it returns early on a stop)."""
        opens = None if self.market is None else self.market.opens_at
        if opens is None:
            return not stopped()
        announced = False
        while not stopped():
            now = self._clock.now()
            if now >= opens:
                if announced:
                    self._log.info("market open: trading starts", opens_at=opens.isoformat())
                return True
            if not announced:
                announced = True
                self._log.info("market not open yet: waiting for the open, no quotes and "
                               "no orders before it", opens_at=opens.isoformat(),
                               now=now.isoformat(), source=self.market.source)
            await sleep(min((opens - now).total_seconds(), WAIT_SLICE_SECONDS))
        return False
