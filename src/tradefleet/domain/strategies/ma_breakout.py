"""``ma_breakout``: buy momentum — price breaks the recent high while the short moving
average sits above the long one. The shipped example of ``StrategyBase``; it keeps the
settings' filters and exits as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import field_validator, model_validator

from tradefleet.domain.indicators import last_high, last_sma
from tradefleet.domain.strategies.base import SignalResult, StrategyBase, StrategyParams


def window_1_240(value: Any) -> int:
    """A bar count: a real int (True and 5.0 are refused) in 1..240."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 240:
        raise ValueError(f"must be an int in 1..240, got {value!r}")
    return value


class MaBreakoutParams(StrategyParams):
    short: int = 5
    long: int = 20
    breakout_window: int = 20
    min_score: float = 0.0

    @field_validator("short", "long", "breakout_window", mode="before")
    @classmethod
    def _windows(cls, value: Any) -> int:
        return window_1_240(value)

    @model_validator(mode="after")
    def _short_below_long(self) -> MaBreakoutParams:
        if self.short >= self.long:
            raise ValueError(f"short: must be smaller than strategy.params.long "
                             f"({self.short} >= {self.long})")
        return self


class MaBreakout(StrategyBase):
    name = "ma_breakout"
    strategy_version = "ma_breakout/1"
    Params = MaBreakoutParams
    params: MaBreakoutParams
    # what `tradefleet tune` searches (tuning/space.py); the schema still judges each draw
    search_space = {"short": (2, 10), "long": (5, 60), "breakout_window": (3, 60),
                    "min_score": (0.0, 0.02)}

    @property
    def bars_needed(self) -> int:
        return max(self.params.long, self.params.breakout_window)

    def evaluate(
        self, closes: np.ndarray, volumes: np.ndarray, prices: np.ndarray
    ) -> SignalResult:
        """Signal when price > high of the last N closed bars and short SMA > long SMA.

        score = breakout margin + trend margin (both as fractions); higher is stronger.
        """
        p = self.params
        price = np.asarray(prices, dtype=np.float64)
        bars = np.asarray(closes, dtype=np.float64)  # convert once for all three indicators
        short_ma = last_sma(bars, p.short)
        long_ma = last_sma(bars, p.long)
        prior_high = last_high(bars, p.breakout_window)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = (price / prior_high - 1.0) + (short_ma / long_ma - 1.0)
            signal = (price > prior_high) & (short_ma > long_ma) & (score >= p.min_score)
        return SignalResult(
            signal=signal,
            score=score,
            indicators={"sma_short": short_ma, "sma_long": long_ma, "prior_high": prior_high},
        )
