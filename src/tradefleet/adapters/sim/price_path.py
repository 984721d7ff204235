"""The intraday tape: a vectorised random walk for the whole universe, stepped in fixed
``STEP_SECONDS`` sim-time steps from the open.

Random draws for minute ``m`` come from ``default_rng([seed, 1, m])``, so the state after a
given number of steps never depends on how the caller chunked the advancing: same seed and
same sim time give the same prices."""

from __future__ import annotations

import numpy as np

from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.universe import STEP_SECONDS, Universe

STEPS_PER_MINUTE = 60 // STEP_SECONDS


class Tape:
    """Prices, accumulated volume/value and today's minute bars after ``steps`` steps."""

    def __init__(self, seed: int, universe: Universe, n_minutes: int) -> None:
        self._seed = seed
        self._u = universe
        n = len(universe.symbols)
        self.steps = 0
        self._log_price = np.log(universe.prev_close.astype(np.float64))
        self._log_lo = np.log(universe.lower_limit.astype(np.float64))
        self._log_hi = np.log(universe.upper_limit.astype(np.float64))
        self.price = universe.prev_close.copy()
        self.open = np.zeros(n, dtype=np.int64)        # 0 until the first step
        self.high = universe.prev_close.copy()
        self.low = universe.prev_close.copy()
        self.volume = np.zeros(n, dtype=np.int64)
        self.traded_value = np.zeros(n, dtype=np.int64)
        shape = (n_minutes, n)
        # int32 halves the memory of a full day (prices < 1e6, minute volumes < 2e9)
        self.bar_open = np.zeros(shape, dtype=np.int32)
        self.bar_high = np.zeros(shape, dtype=np.int32)
        self.bar_low = np.zeros(shape, dtype=np.int32)
        self.bar_close = np.zeros(shape, dtype=np.int32)
        self.bar_volume = np.zeros(shape, dtype=np.int32)
        self.bar_value = np.zeros(shape, dtype=np.int64)    # won traded in the minute
        self._draw_minute = -1
        self._z: np.ndarray | None = None
        self._q: np.ndarray | None = None

    def _draws(self, minute: int) -> tuple[np.ndarray, np.ndarray]:
        if minute != self._draw_minute:
            rng = np.random.default_rng([self._seed, 1, minute])
            n = len(self._u.symbols)
            self._z = rng.standard_normal((STEPS_PER_MINUTE, n))
            self._q = rng.poisson(self._u.shares_per_step, (STEPS_PER_MINUTE, n))
            self._draw_minute = minute
        assert self._z is not None and self._q is not None
        return self._z, self._q

    def step(self) -> None:
        """Advance one step: new last price on a valid tick within the limits, new volume."""
        u = self._u
        minute, sub = divmod(self.steps, STEPS_PER_MINUTE)
        z, q = self._draws(minute)
        drift = np.where(self.steps >= u.momentum_from, u.drift, 0.0)
        self._log_price = np.clip(self._log_price + drift + u.sigma * z[sub],
                                  self._log_lo, self._log_hi)
        price = np.clip(ticks.round_nearest(np.exp(self._log_price)),
                        u.lower_limit, u.upper_limit)
        vol = q[sub].astype(np.int64)
        self.price = price
        if self.steps == 0:
            self.open = price.copy()
            self.high = price.copy()
            self.low = price.copy()
        else:
            np.maximum(self.high, price, out=self.high)
            np.minimum(self.low, price, out=self.low)
        self.volume += vol
        self.traded_value += vol * price
        if sub == 0:
            self.bar_open[minute] = price
            self.bar_high[minute] = price
            self.bar_low[minute] = price
        else:
            np.maximum(self.bar_high[minute], price, out=self.bar_high[minute])
            np.minimum(self.bar_low[minute], price, out=self.bar_low[minute])
        self.bar_close[minute] = price
        self.bar_volume[minute] += vol
        self.bar_value[minute] += vol * price
        self.steps += 1

    def minutes_started(self) -> int:
        """Number of minute bars that have at least one step (the last may be in progress)."""
        return -(-self.steps // STEPS_PER_MINUTE)
