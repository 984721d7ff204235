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
one clock time: the first read at a new time drops the old one.

A quotes read of symbols that were all asked for already at this clock time (each exit
check's one symbol, after a scan's read of the universe) is answered from those reads
without the market's: ``SimMarket.quotes`` computes each symbol's quote from that
symbol's own entries alone (its tape price, volume and extremes, its universe row, and
``book.best_bid_ask`` and ``ticks.step_ticks``, which work element by element: a longer
loop for another symbol leaves this one's price as it is), plus the clock's time and
whether the tape has taken a step, the same for all; it leaves out unknown symbols and
keeps the order asked for. So the answer is the asked symbols' quotes from the earlier
reads, in the order asked, without those no read returned (unknown). A symbol not asked
for yet at this time is read from the market with the rest of its request.

A read of minute bars the memo does not hold advances the market as its own read does
(``SimMarket._advance``, under its lock) and builds the bars from the tape's rows: the bars
before the newest once a day, kept (``finished``): a minute's bar is written only by the
tape's ``step`` while that minute runs (``Tape.step`` and ``RecordedTape.step`` write the
arrays' row ``steps // STEPS_PER_MINUTE``, and ``steps`` only grows), so once a later minute
has started it never changes; the newest (the running minute's) once per tape step and
symbol, kept until ``steps`` moves (nothing else writes the rows). An unknown symbol or a
count <= 0 is the market's own read. Each is built as ``SimMarket.minute_bars`` builds it,
from the same rows (``tests/test_step_reads.py`` compares whole days of reads with the
market's own).

Each caller gets its own list or dict (the ``Bar`` and ``Quote`` inside are frozen). The
broker's fault plan, the retry and the metering above the market run for every read as
before. Trades are unchanged
(``tests/test_step_reads.py`` compares a fleet day with and without; the parity test runs
the replay with it against the simulated day without)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tradefleet.domain.market import Bar, Quote


class StepReads:
    """Memoised ``quotes`` and ``minute_bars`` of one ``SimMarket``, per clock time."""

    def __init__(self, market: Any) -> None:
        self._market = market
        self._finished: dict[str, list[Bar]] = {}  # symbol -> its finished minutes' bars
        self._quotes = market.quotes
        self._bars = market.minute_bars
        self._at: datetime | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._asked: set[str] = set()               # symbols quoted at this clock time
        self._quote_of: dict[str, Quote] = {}       # and their quotes (unknown: none)
        self._newest_step = -1                      # the tape step of the newest bars
        self._newest_rows: tuple[Any, ...] = ()
        self._newest_bars: dict[str, Bar] = {}
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
            self._asked.clear()
            self._quote_of.clear()

    def quotes(self, symbols: Sequence[str] | None = None) -> dict[str, Quote]:
        self._fresh()
        key = ("quotes", None if symbols is None else tuple(symbols))
        if key in self._memo:
            self.served += 1
            return dict(self._memo[key])
        if symbols is not None and self._asked.issuperset(symbols):
            self.served += 1                        # each asked for already at this time
            known = self._quote_of
            return {s: known[s] for s in symbols if s in known}
        got = self._quotes(None if symbols is None else list(symbols))
        self._memo[key] = got
        self._quote_of.update(got)
        self._asked.update(got if symbols is None else symbols)
        return dict(got)

    def minute_bars(self, symbol: str, count: int) -> list[Bar]:
        self._fresh()
        key = ("bars", symbol, count)
        if key in self._memo:
            self.served += 1
        else:
            self._memo[key] = self._built(symbol, count)
        return list(self._memo[key])

    def minute_bars_of(self, symbols: Sequence[str], count: int) -> dict[str, list[Bar]]:
        """``{s: self.minute_bars(s, count) for s in symbols}`` (a scan's bar reads at one
        clock time), with the market advanced and its started minutes counted once for
        the lot, not once a symbol: at one clock time a second ``_advance`` steps nothing
        (the tape is at the clock's step already, and only ``_advance`` moves it), so
        every symbol's bars are built from the same tape rows as its own read's."""
        self._fresh()
        market, memo, out = self._market, self._memo, {}
        with market._lock:
            end = -1
            for symbol in symbols:
                key = ("bars", symbol, count)
                if key in memo:
                    self.served += 1
                elif count > 0 and symbol in market._index:
                    if end < 0:
                        market._advance()
                        end = market._tape.minutes_started()
                    memo[key] = self._from_tape(symbol, count, end)
                else:                               # the market's answer ([], or it raises)
                    memo[key] = self._bars(symbol, count)
                out[symbol] = list(memo[key])
        return out

    def _built(self, symbol: str, count: int) -> list[Bar]:
        """``SimMarket.minute_bars(symbol, count)``: its newest bar as of the tape's step
        (``_newest``), the ones before it from ``finished``."""
        market = self._market
        with market._lock:      # the newest bar and the tape's minutes of one step
            if count <= 0 or symbol not in market._index:
                return self._bars(symbol, count)    # the market's answer ([], or it raises)
            market._advance()                       # as the market's own read does first
            return self._from_tape(symbol, count, market._tape.minutes_started())

    def _from_tape(self, symbol: str, count: int, end: int) -> list[Bar]:
        """``_built``'s bars of a known symbol, ``count`` > 0, the market advanced to the
        clock's time and ``end`` its started minutes (the newest bar is minute end - 1);
        under the market's lock."""
        market = self._market
        tape = market._tape
        if end == 0:
            return []                               # no minute has started: no bar yet
        newest = self._newest(symbol, end)
        done = self._finished.setdefault(symbol, [])
        if len(done) < end - 1:                 # minutes before the newest have ended
            i, a, b = market._index[symbol], len(done), end - 1
            rows = zip(range(a, b), tape.bar_open[a:b, i].tolist(),
                       tape.bar_high[a:b, i].tolist(), tape.bar_low[a:b, i].tolist(),
                       tape.bar_close[a:b, i].tolist(), tape.bar_volume[a:b, i].tolist(),
                       strict=True)
            done.extend(Bar(symbol, market.open_at + timedelta(minutes=m), o, h, lo, c, v)
                        for m, o, h, lo, c, v in rows)
        return [*done[max(0, end - count):end - 1], newest]

    def _newest(self, symbol: str, end: int) -> Bar:
        """The running minute's bar (row ``end - 1``) of ``symbol``, as the market builds it
        (``SimMarket.minute_bars``, count 1), kept until the tape steps again: the tape's
        bar rows are written only by its ``step``, which counts ``steps``. The row's values
        of every symbol are taken out of numpy once per step."""
        market = self._market
        tape = market._tape
        if tape.steps != self._newest_step:
            m = end - 1
            self._newest_step = tape.steps
            self._newest_rows = (market.open_at + timedelta(minutes=m),
                                 tape.bar_open[m].tolist(), tape.bar_high[m].tolist(),
                                 tape.bar_low[m].tolist(), tape.bar_close[m].tolist(),
                                 tape.bar_volume[m].tolist())
            self._newest_bars.clear()
        bar = self._newest_bars.get(symbol)
        if bar is None:
            start, o, h, lo, c, v = self._newest_rows
            i = market._index[symbol]
            bar = Bar(symbol, start, o[i], h[i], lo[i], c[i], v[i])
            self._newest_bars[symbol] = bar
        return bar
