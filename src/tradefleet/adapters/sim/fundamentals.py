"""Per-symbol figures a KIS quote carries that the intraday tape does not make: listed shares,
EPS/BPS, 52-week and 250-day extremes, the previous day's volume, face value.

They are synthetic but plausible and stable: drawn once from ``default_rng([seed, 2])`` (a
stream of its own, so the tape and the universe are as they were) and anchored on the
symbol's previous close, so a seed always gives the same figures. PER/PBR are not stored:
KIS computes them on the current price, and so does the simulator (``per_pbr``). The
52-week high/low include today's range as it happens (``extremes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.universe import STEPS_PER_DAY, Universe

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Fundamentals:
    listed_shares: int
    face_value: int          # won per share (액면가)
    eps: int                 # won per share
    bps: int                 # won per share
    w52_high: int            # before today
    w52_high_date: date
    w52_low: int
    w52_low_date: date
    prev_volume: int         # shares traded the previous session

    @property
    def capital(self) -> int:
        """Paid-in capital (자본금) in won: listed shares at face value."""
        return self.listed_shares * self.face_value

    def per_pbr(self, price: int) -> tuple[Decimal, Decimal]:
        per = (Decimal(price) / self.eps).quantize(_CENT, ROUND_HALF_UP) if self.eps else \
            Decimal("0.00")
        pbr = (Decimal(price) / self.bps).quantize(_CENT, ROUND_HALF_UP)
        return per, pbr

    def extremes(self, high: int, low: int, day: date) -> tuple[int, date, int, date]:
        """(52-week high, its date, low, its date) with today's range ``high``/``low``."""
        hi, hi_d = (high, day) if high > self.w52_high else (self.w52_high, self.w52_high_date)
        lo, lo_d = (low, day) if 0 < low < self.w52_low else (self.w52_low, self.w52_low_date)
        return hi, hi_d, lo, lo_d


def build_fundamentals(seed: int, universe: Universe, day: date) -> dict[str, Fundamentals]:
    n = len(universe.symbols)
    rng = np.random.default_rng([seed, 2])
    prev_close = universe.prev_close.astype(np.float64)
    market_cap = np.exp(rng.uniform(np.log(5e10), np.log(5e13), n))
    shares = np.maximum(1_000_000, np.rint(market_cap / prev_close)).astype(np.int64)
    face = rng.choice(np.array([100, 500, 1_000, 5_000]), n)
    per = rng.uniform(4.0, 45.0, n)
    loss = rng.random(n) < 0.1                          # a tenth report a loss (EPS < 0)
    eps = np.rint(prev_close / per) * np.where(loss, -1, 1)
    pbr = rng.uniform(0.3, 5.0, n)
    bps = np.maximum(1, np.rint(prev_close / pbr))
    up = rng.uniform(1.05, 1.9, n)
    down = rng.uniform(0.45, 0.95, n)
    w52_high = ticks.round_down(np.rint(prev_close * up).astype(np.int64))
    w52_low = np.maximum(1, ticks.round_up(np.rint(prev_close * down).astype(np.int64)))
    hi_days = rng.integers(2, 360, n)
    lo_days = rng.integers(2, 360, n)
    daily = universe.shares_per_step * STEPS_PER_DAY
    prev_volume = np.maximum(1, np.rint(daily * rng.uniform(0.6, 1.5, n))).astype(np.int64)
    return {
        s: Fundamentals(int(shares[i]), int(face[i]), int(eps[i]) or 1, int(bps[i]),
                        int(w52_high[i]), day - timedelta(days=int(hi_days[i])),
                        int(w52_low[i]), day - timedelta(days=int(lo_days[i])),
                        int(prev_volume[i]))
        for i, s in enumerate(universe.symbols)
    }
