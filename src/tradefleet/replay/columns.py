"""Rows of the broker's own types (``Quote``, ``Bar``) as the columns of the day format:
the one place that knows how a domain object maps to a recorded row."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from tradefleet.domain.market import Bar, Quote
from tradefleet.replay.day_format import BOOK_LEVELS, LEVEL_COLUMNS

Levels = list[tuple[int, int]]      # (price, shares), best first


class QuoteColumns:
    """Quote snapshots collected one by one, then handed over as columns."""

    def __init__(self) -> None:
        self._rows: list[tuple[int, ...]] = []
        self._symbols: list[str] = []
        self._levels: list[list[int]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, q: Quote, asks: Levels = (), bids: Levels = ()) -> None:  # type: ignore[assignment]
        self._symbols.append(q.symbol)
        self._rows.append((int(q.at.timestamp() * 1000), q.price, q.volume, q.traded_value,
                           int((Decimal(q.change_rate) * 100).to_integral_value()), q.open,
                           q.high, q.low, q.prev_high, q.prev_low, q.prev_close, q.ask, q.bid,
                           q.upper_limit, q.lower_limit))
        row: list[int] = []
        for side in (asks, bids):
            padded = list(side[:BOOK_LEVELS]) + [(0, 0)] * (BOOK_LEVELS - len(side))
            row += [p for p, _ in padded] + [n for _, n in padded]
        self._levels.append(row)

    def columns(self) -> dict[str, np.ndarray]:
        """Sorted by (at, symbol), as the format says."""
        n = len(self._rows)
        ints = np.array(self._rows, dtype=np.int64).reshape(n, 15)
        levels = np.array(self._levels, dtype=np.int64).reshape(n, len(LEVEL_COLUMNS))
        symbols = np.array(self._symbols, dtype=object)
        order = np.lexsort((symbols.astype(str), ints[:, 0])) if n else np.arange(0)
        names = ("at", "price", "volume", "traded_value", "change_bp", "open", "high", "low",
                 "prev_high", "prev_low", "prev_close", "ask", "bid", "upper_limit",
                 "lower_limit")
        out = {name: ints[order, k] for k, name in enumerate(names)}
        out["symbol"] = symbols[order]
        out.update({name: levels[order, k] for k, name in enumerate(LEVEL_COLUMNS)})
        return out


def bar_columns(bars: Sequence[Bar]) -> dict[str, np.ndarray]:
    """Bars as columns sorted by (symbol, start); ``start`` in epoch milliseconds."""
    ordered = sorted(bars, key=lambda b: (b.symbol, b.start))
    return {"symbol": np.array([b.symbol for b in ordered], dtype=object),
            "start": np.array([int(b.start.timestamp()) * 1000 for b in ordered],
                              dtype=np.int64),
            **{name: np.array([getattr(b, name) for b in ordered], dtype=np.int64)
               for name in ("open", "high", "low", "close", "volume")}}
