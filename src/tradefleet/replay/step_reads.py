"""Replay-only: the market's quotes and minute bars read once per fleet step and handed to
every worker that asks for the same ones at that step (issue 21, speed).

In a stepped fleet (``replay.runner``) every worker polls at the same clock time, and each
free worker's scan reads the quotes of the whole universe and the minute bars of every
symbol that passes the pre-filters: ten workers, ten times the same reads. What a read
returns is a function of the clock time and its arguments alone:

1. the simulator's quotes and bars come from its tape (price, volume, the minute bars) and
   its universe (spreads, limits), and ``SimMarket._advance`` moves the tape to the clock's
   time and nothing else moves it: orders fill against the book derived from the tape, they
   never write it. So at one clock time the tape is one state;
2. a quote also carries the clock's time (``Quote.at``): the same at one clock time;
3. the first read at a clock time runs the market's own read (which also advances the tape
   and matches resting orders, as any read does); a later read at the same time would find
   the tape already there and do nothing else.

So a read served from the memo returns what the market would have returned. The memo holds
one clock time: the first read at a new time drops the old one. Each caller gets its own
list or dict (the ``Bar`` and ``Quote`` inside are frozen). The broker's fault plan, the
retry and the metering above the market run for every read as before. Trades are unchanged
(``tests/test_step_reads.py`` compares a fleet day with and without; the parity test runs
the replay with it against the simulated day without)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tradefleet.domain.market import Bar, Quote


class StepReads:
    """Memoised ``quotes`` and ``minute_bars`` of one ``SimMarket``, per clock time."""

    def __init__(self, market: Any) -> None:
        self._market = market
        self._quotes = market.quotes
        self._bars = market.minute_bars
        self._at: datetime | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}
        self.served = 0                 # reads answered from the memo

    def install(self) -> StepReads:
        """Put the memo in front of the market's own reads (this market object only)."""
        self._market.quotes = self.quotes
        self._market.minute_bars = self.minute_bars
        return self

    def _fresh(self) -> None:
        now = self._market.clock.now()
        if now != self._at:
            self._at = now
            self._memo.clear()

    def quotes(self, symbols: Sequence[str] | None = None) -> dict[str, Quote]:
        self._fresh()
        key = ("quotes", None if symbols is None else tuple(symbols))
        if key in self._memo:
            self.served += 1
        else:
            self._memo[key] = self._quotes(None if symbols is None else list(symbols))
        return dict(self._memo[key])

    def minute_bars(self, symbol: str, count: int) -> list[Bar]:
        self._fresh()
        key = ("bars", symbol, count)
        if key in self._memo:
            self.served += 1
        else:
            self._memo[key] = self._bars(symbol, count)
        return list(self._memo[key])
