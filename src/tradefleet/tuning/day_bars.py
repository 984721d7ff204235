"""A recorded day's minute bars as (symbol x minute) grids: what the tuning scorer reads.
A minute a symbol did not trade carries its last close (open = high = low = close, volume
0); a symbol with no bar before one is left out of that minute's scan (NaN)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from tradefleet.replay.day_format import read_day


@dataclass(frozen=True, slots=True)
class DayBars:
    day: date
    symbols: tuple[str, ...]
    open: np.ndarray        # float64 (symbols, minutes); prices in won
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @property
    def minutes(self) -> int:
        return self.close.shape[1]


def load_day_bars(folder: Path) -> DayBars:
    day = read_day(folder)
    meta, bars = day.meta, day.bars
    open_ms = int(meta.session_open.timestamp() * 1000)
    n_min = int((meta.session_close - meta.session_open).total_seconds()) // 60
    symbols = tuple(sorted(meta.symbols))
    row = {s: i for i, s in enumerate(symbols)}
    grids = {k: np.full((len(symbols), n_min), np.nan) for k in ("open", "high", "low", "close")}
    volume = np.zeros((len(symbols), n_min))
    r = np.array([row.get(str(s), -1) for s in bars["symbol"]], dtype=np.int64)
    m = (bars["start"] - open_ms) // 60_000
    keep = (r >= 0) & (m >= 0) & (m < n_min)
    for k, grid in grids.items():
        grid[r[keep], m[keep]] = bars[k][keep]
    volume[r[keep], m[keep]] = bars["volume"][keep]
    close = grids["close"]
    for t in range(1, n_min):                       # carry the last close over a gap
        gap = np.isnan(close[:, t]) & ~np.isnan(close[:, t - 1])
        if gap.any():
            for k in grids:
                grids[k][gap, t] = close[gap, t - 1]
    return DayBars(meta.day, symbols, grids["open"], grids["high"], grids["low"], close,
                   volume)
