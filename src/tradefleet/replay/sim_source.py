"""A whole simulated day recorded in-process, without waiting for it: the simulator's
market is stepped on a frozen clock, a quote (with its book levels) taken every ``every_s``
seconds from the open to the close inclusive (at ``open + k * 10 s`` the quote is the market
after its k-th step, so a 10 s recording holds every step), and every closed minute bar read
at the close. The same seed gives the same day byte for byte (the market's determinism)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import numpy as np

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.replay.columns import QuoteColumns, bar_columns
from tradefleet.replay.day_format import BOOK_LEVELS, DayMeta, RecordedDay

Progress = Callable[[datetime, int], None]      # (sim time, quote rows so far)


def record_sim_day(seed: int, n_symbols: int, day: date, *, every_s: int = STEP_SECONDS,
                   session_open: time = time(9, 0), session_close: time = time(15, 30),
                   progress: Progress | None = None) -> RecordedDay:
    """The simulator's day ``day`` (seed, universe size and hours as the exchange would
    run it). ``every_s`` must be a multiple of the market's step (10 s)."""
    if every_s < STEP_SECONDS or every_s % STEP_SECONDS:
        raise ValueError(f"--every: must be a multiple of {STEP_SECONDS} s, got {every_s}")
    opens = datetime.combine(day, session_open, tzinfo=SEOUL)
    clock = FrozenClock(opens)
    market = SimMarket(seed, n_symbols=n_symbols, clock=clock, day=day,
                       session_open=session_open, session_close=session_close)
    symbols = market.symbols()
    u = market.universe
    depth, lower, upper = (np.asarray(a, dtype=np.int64) for a in (u.depth, u.lower_limit,
                                                                   u.upper_limit))
    quotes = QuoteColumns()
    at = opens
    while at <= market.close_at:        # the close too: the day's last step, its closing quote
        clock.set(at)
        snapshot = market.quotes(symbols)
        got = [snapshot[s] for s in symbols]
        asks = _levels(np.array([q.ask for q in got], dtype=np.int64), 1, depth, lower, upper)
        bids = _levels(np.array([q.bid for q in got], dtype=np.int64), -1, depth, lower, upper)
        for k, q in enumerate(got):
            quotes.add(q, asks[k], bids[k])
        if progress is not None and at.second == 0 and at.minute % 30 == 0:
            progress(at, len(quotes))
        at += timedelta(seconds=every_s)
    clock.set(market.close_at)
    minutes = int((market.close_at - opens).total_seconds() // 60)
    bars = [b for s in symbols for b in market.minute_bars(s, minutes + 1)
            if b.start + timedelta(minutes=1) <= market.close_at]
    meta = DayMeta(day=day, source=f"sim:seed={seed},symbols={n_symbols}",
                   session_open=opens, session_close=market.close_at,
                   symbols={i.symbol: i.market for i in market.symbol_infos()},
                   quotes_every_s=float(every_s), book_levels=BOOK_LEVELS)
    return RecordedDay(meta, bar_columns(bars), quotes.columns())


def _levels(best: np.ndarray, way: int, depth: np.ndarray, lower: np.ndarray,
            upper: np.ndarray) -> list[list[tuple[int, int]]]:
    """The book the simulator's orders fill against (``SimMarket.quote_with_book``), for
    every symbol at once: ``BOOK_LEVELS`` prices a tick apart from the best, each resting
    the symbol's depth, none beyond a daily limit and none on an empty side."""
    prices = np.empty((len(best), BOOK_LEVELS), dtype=np.int64)
    price = best.copy()
    for k in range(BOOK_LEVELS):
        prices[:, k] = price
        price = ticks.step_ticks(price, way)
    inside = (prices >= lower[:, None]) & (prices <= upper[:, None]) & (best[:, None] > 0)
    valid = np.cumprod(inside, axis=1).astype(bool)        # stops at the first gap
    return [[(int(p), int(d)) for p, ok in zip(row, okrow, strict=True) if ok]
            for row, okrow, d in zip(prices.tolist(), valid.tolist(), depth.tolist(),
                                     strict=True)]
