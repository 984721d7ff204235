"""A session recorded as it happens, through the broker port: the exchange simulator over
HTTP or KIS (paper or real), with the fleet's shared token and rate budget when the command
builds the broker that way. Every ``every_s`` seconds of the clock, one batched quote read of
the universe (KIS: 30 symbols a call); at the close, every symbol's minute bars of the day
(KIS: 30 a page). KIS gives no book depth here: ``book_levels`` is 0 (top of book only).

A read that fails (a timeout, a rate-limit refusal that outlived the adapter's resends) costs
that snapshot only: it is counted and the next one is tried on time. Stopped early (Ctrl-C,
SIGTERM), what was recorded is written with ``complete: false``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradefleet.domain.errors import BrokerError
from tradefleet.domain.market import Bar
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.replay.columns import QuoteColumns, bar_columns
from tradefleet.replay.day_format import DayMeta, RecordedDay

ONE_MINUTE = timedelta(minutes=1)


@dataclass
class RecordingProgress:
    snapshots: int = 0
    failed_snapshots: int = 0
    symbols_with_bars: int = 0
    failed_bar_reads: int = 0


Progress = Callable[[datetime, RecordingProgress], None]


class LiveRecorder:
    def __init__(self, broker: BrokerPort, clock: Clock, universe: Sequence[str], *,
                 session_open: datetime, session_close: datetime, source: str,
                 every_s: float = 10.0, markets: dict[str, str | None] | None = None,
                 progress: Progress | None = None) -> None:
        if not universe:
            raise ValueError("universe: list the symbols to record")
        if not every_s > 0:
            raise ValueError(f"--every: must be > 0 seconds, got {every_s}")
        self._broker = broker
        self._clock = clock
        self._universe = list(universe)
        self._open, self._close = session_open, session_close
        self._source = source
        self._every = every_s
        self._markets = markets or {}
        self._progress = progress
        self.status = RecordingProgress()
        self._quotes = QuoteColumns()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End the recording early; what was recorded so far is kept."""
        self._stop.set()

    async def record(self) -> RecordedDay:
        """Quotes from the open (or now) to the close, then the day's bars."""
        await self._broker.authenticate()
        if self._clock.now() < self._open:
            await self._sleep_until(self._open)
        next_at = self._clock.now()
        while not self._stop.is_set() and self._clock.now() < self._close:
            await self._snapshot()
            next_at += timedelta(seconds=self._every)
            await self._sleep_until(next_at)
        complete = not self._stop.is_set() and self._clock.now() >= self._close
        bars = await self._bars()
        meta = DayMeta(day=self._open.date(), source=self._source, session_open=self._open,
                       session_close=self._close,
                       symbols={s: self._markets.get(s) for s in self._universe},
                       quotes_every_s=self._every, book_levels=0,
                       complete=complete and not self.status.failed_bar_reads)
        return RecordedDay(meta, bar_columns(bars), self._quotes.columns())

    async def _sleep_until(self, at: datetime) -> None:
        """The clock's own seconds, a second at a time so a stop is seen within one."""
        while not self._stop.is_set():
            left = (at - self._clock.now()).total_seconds()
            if left <= 0:
                return
            await self._clock.sleep(min(left, 1.0))

    async def _snapshot(self) -> None:
        try:
            quotes = await self._broker.get_quotes(self._universe)
        except BrokerError:
            self.status.failed_snapshots += 1
            return
        for symbol in self._universe:
            q = quotes.get(symbol)
            if q is not None and q.price > 0:
                self._quotes.add(q)
        self.status.snapshots += 1
        if self._progress is not None:
            self._progress(self._clock.now(), self.status)

    async def _bars(self) -> list[Bar]:
        end = min(self._clock.now(), self._close)
        minutes = int((end - self._open).total_seconds() // 60) + 1
        out: list[Bar] = []
        for symbol in self._universe:
            try:
                bars = await self._broker.get_minute_bars(symbol, max(1, minutes))
            except BrokerError:
                self.status.failed_bar_reads += 1
                continue
            out += [b for b in bars if self._open <= b.start and b.start + ONE_MINUTE <= end]
            self.status.symbols_with_bars += 1
        return out
