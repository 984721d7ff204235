"""``volume_surge``: buy a minute of unusual volume that the price confirms — the last
closed bar traded ``surge_ratio`` times the average of the bars before it, and the price
now stands ``min_rise_pct`` or more above that bar's close.

The second shipped example, and the one that uses every hook of the interface: its own
stop-loss, take-profit and time exit (when set, they replace the settings' ``exits``) and
its own traded-value floor (replacing ``filters.min_traded_value``). Being parameters,
they are in ``param_version``, so a tuner can search them like any other."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
from pydantic import Field

from tradefleet.domain.exits import ExitParams
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.strategies.base import SignalResult, StrategyBase, StrategyParams


class VolumeSurgeParams(StrategyParams):
    window: int = Field(20, ge=2, le=240, strict=True)
    surge_ratio: float = Field(3.0, gt=1.0, le=100.0)
    min_rise_pct: float = Field(0.0, ge=0.0, le=30.0)
    stop_loss_pct: Decimal | None = Field(None, gt=0, lt=30)
    take_profit_pct: Decimal | None = Field(None, gt=0, lt=30)
    time_exit_minutes: int | None = Field(None, ge=0, le=120, strict=True)
    min_traded_value: int | None = Field(None, ge=0, strict=True)


class VolumeSurge(StrategyBase):
    name = "volume_surge"
    strategy_version = "volume_surge/1"
    Params = VolumeSurgeParams
    params: VolumeSurgeParams
    # what `tradefleet tune` searches (tuning/space.py); the exits stay the settings' unless set
    search_space = {"window": (5, 60), "surge_ratio": (1.5, 8.0), "min_rise_pct": (0.0, 2.0)}

    @property
    def bars_needed(self) -> int:
        return self.params.window

    def evaluate(
        self, closes: np.ndarray, volumes: np.ndarray, prices: np.ndarray
    ) -> SignalResult:
        """score = last bar's volume over the mean of the bars before it."""
        p = self.params
        vol = np.asarray(volumes, dtype=np.float64)[:, -p.window:]
        last_close = np.asarray(closes, dtype=np.float64)[:, -1]
        price = np.asarray(prices, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            base = vol[:, :-1].mean(axis=1)
            ratio = np.where(base > 0, vol[:, -1] / base, np.nan)
            rise_pct = (price / last_close - 1.0) * 100.0
            signal = (ratio >= p.surge_ratio) & (rise_pct >= p.min_rise_pct) & (price > 0)
        return SignalResult(signal=signal, score=ratio,
                            indicators={"volume_ratio": ratio, "rise_pct": rise_pct})

    def filter_params(self, configured: FilterParams) -> FilterParams:
        if self.params.min_traded_value is None:
            return configured
        return replace(configured, min_traded_value=self.params.min_traded_value)

    def exit_params(self, configured: ExitParams) -> ExitParams:
        p = self.params
        changes = {name: value for name, value in (
            ("stop_loss_pct", p.stop_loss_pct), ("take_profit_pct", p.take_profit_pct),
            ("time_exit_minutes", p.time_exit_minutes)) if value is not None}
        return replace(configured, **changes)
