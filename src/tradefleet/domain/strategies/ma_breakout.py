"""``ma_breakout``: buy momentum — price breaks the recent high while the short moving
average sits above the long one."""

from __future__ import annotations

from typing import Any

import numpy as np

from tradefleet.domain.indicators import last_high, last_sma
from tradefleet.domain.strategies.base import SignalResult, StrategyParamsError, param_hash

DEFAULTS: dict[str, Any] = {"short": 5, "long": 20, "breakout_window": 20, "min_score": 0.0}


def _validated(params: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    for name in sorted(set(params) - set(DEFAULTS)):
        problems[name] = f"unknown parameter for ma_breakout (known: {', '.join(DEFAULTS)})"
    merged = {**DEFAULTS, **params}
    for name in ("short", "long", "breakout_window"):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 240:
            problems[name] = f"must be an int in 1..240, got {value!r}"
    try:
        merged["min_score"] = float(merged["min_score"])
    except (TypeError, ValueError):
        problems["min_score"] = f"must be a number, got {merged['min_score']!r}"
    if not problems and merged["short"] >= merged["long"]:
        problems["short"] = (f"must be smaller than strategy.params.long "
                             f"({merged['short']} >= {merged['long']})")
    if problems:
        raise StrategyParamsError(problems)
    return merged


class MaBreakout:
    name = "ma_breakout"
    strategy_version = "ma_breakout/1"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = _validated(params)
        self.param_version = param_hash(self.params)
        self.bars_needed = max(self.params["long"], self.params["breakout_window"])

    def evaluate(
        self, closes: np.ndarray, volumes: np.ndarray, prices: np.ndarray
    ) -> SignalResult:
        """Signal when price > high of the last N closed bars and short SMA > long SMA.

        score = breakout margin + trend margin (both as fractions); higher is stronger.
        """
        p = self.params
        price = np.asarray(prices, dtype=np.float64)
        bars = np.asarray(closes, dtype=np.float64)  # convert once for all three indicators
        short_ma = last_sma(bars, p["short"])
        long_ma = last_sma(bars, p["long"])
        prior_high = last_high(bars, p["breakout_window"])
        with np.errstate(invalid="ignore", divide="ignore"):
            score = (price / prior_high - 1.0) + (short_ma / long_ma - 1.0)
            signal = (price > prior_high) & (short_ma > long_ma) & (score >= p["min_score"])
        return SignalResult(
            signal=signal,
            score=score,
            indicators={"sma_short": short_ma, "sma_long": long_ma, "prior_high": prior_high},
        )
