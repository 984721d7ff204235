"""The simulator's quote fields of each symbol, computed once per tape step (issue 21, speed).

A quote is its symbol's tape entries (price, volume, traded value, open, high, low), its
universe row (previous day, limits, spread) and the book's best bid and ask derived from
them (``book.best_bid_ask``, element by element), plus the clock's time. The tape's arrays
change only in its ``step`` (``Tape.step``, ``RecordedTape.step``), which also counts
``steps``, and the universe's never do; so at one ``steps`` a symbol's fields are one value,
whichever other symbols a read asks for with it. They are kept per symbol until the tape
steps again: a second read in the same step (the next poll 5 s later in a 10 s step, an
exit check's one symbol after a scan's whole universe, the live simulator's many readers)
builds only the ``Quote`` (its ``at`` is the reader's clock time), not the numpy work and
the change-rate ``Decimal`` again. The bid, ask and change rate are kept for the day per
(symbol, price): they depend on nothing else (the symbol's spread, limits and previous
close are its universe row's), and prices come back to levels seen before.
``tests/test_quote_rows.py`` compares a whole day's reads with the fields computed afresh."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from tradefleet.adapters.sim import book

_PCT = Decimal("0.01")

# price, volume, traded_value, change_rate, open, high, low, prev_high, prev_low,
# prev_close, ask, bid, upper_limit, lower_limit: a Quote's fields between symbol and at
Row = tuple[int, int, int, Decimal, int, int, int, int, int, int, int, int, int, int]


def compute_rows(universe: Any, tape: Any, index: dict[str, int], names: Sequence[str],
                 known: dict[tuple[int, int], tuple[int, int, Decimal]] | None = None
                 ) -> dict[str, Row]:
    """The fields of ``names`` (known symbols) at the tape's current step. ``known``: the
    (bid, ask, change rate) of (symbol row, price) computed before, added to here: each is
    a function of the symbol's price and its universe row alone (``book.best_bid_ask``
    works element by element), so a price seen before is not computed again."""
    idx = np.fromiter((index[s] for s in names), dtype=np.int64, count=len(names))
    u, t = universe, tape
    price = t.price[idx]
    prices, rows = price.tolist(), idx.tolist()
    prev_close = u.prev_close[idx].tolist()
    memo = {} if known is None else known
    new = [k for k, key in enumerate(zip(rows, prices, strict=True)) if key not in memo]
    if new:
        sel = np.array(new, dtype=np.int64)
        bid, ask = book.best_bid_ask(price[sel], u.spread_ticks[idx[sel]],
                                     u.lower_limit[idx[sel]], u.upper_limit[idx[sel]])
        for k, b, a in zip(new, bid.tolist(), ask.tolist(), strict=True):
            p, pc = prices[k], prev_close[k]
            rate = (Decimal((p - pc) * 100) / Decimal(pc)).quantize(_PCT, ROUND_HALF_UP)
            memo[(rows[k], p)] = (b, a, rate)
    opened = t.steps > 0
    cols = zip(names, rows, prices, t.volume[idx].tolist(), t.traded_value[idx].tolist(),
               t.open[idx].tolist(), t.high[idx].tolist(), t.low[idx].tolist(),
               u.prev_high[idx].tolist(), u.prev_low[idx].tolist(), prev_close,
               u.upper_limit[idx].tolist(), u.lower_limit[idx].tolist(), strict=True)
    out: dict[str, Row] = {}
    for (s, i, p, v, tv, o, h, lo, ph, pl, pc, ul, ll) in cols:
        b, a, rate = memo[(i, p)]
        out[s] = (p, v, tv, rate, o if opened else pc, h, lo, ph, pl, pc, a, b, ul, ll)
    return out


class StepQuoteRows:
    """``compute_rows`` kept per symbol for the tape's current step."""

    def __init__(self, universe: Any, tape: Any, index: dict[str, int]) -> None:
        self._universe = universe
        self._tape = tape
        self._index = index
        self._step = -1
        self._rows: dict[str, Row] = {}
        self._known: dict[tuple[int, int], tuple[int, int, Decimal]] = {}   # for the day

    def rows(self, names: Sequence[str]) -> dict[str, Row]:
        """The fields of each of ``names`` (known symbols) at the tape's current step."""
        if self._tape.steps != self._step:
            self._step = self._tape.steps
            self._rows = {}
        rows = self._rows
        missing = [s for s in names if s not in rows]
        if missing:
            rows.update(compute_rows(self._universe, self._tape, self._index, missing,
                                     self._known))
        return rows
