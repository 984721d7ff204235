"""Tuning speed for ``bench/replay.py``: trials per minute of ``tune`` over recorded days
(the bar model of tuning/scorer.py; one trial = one draw scored on the fit days)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from tradefleet.domain.exits import ExitParams
from tradefleet.replay.day_format import recorded_days
from tradefleet.tuning.day_bars import load_day_bars
from tradefleet.tuning.scorer import Rules
from tradefleet.tuning.tuner import TuneRequest, tune

BENCH_EXITS = ExitParams(stop_loss_pct=Decimal("2.0"), take_profit_pct=Decimal("3.0"),
                         trend_ma_window=20, time_exit_minutes=0)


def trials_per_minute(data_dir: Path, *, days: int = 5, trials: int = 50,
                      strategy: str = "ma_breakout", seed: int = 1) -> float:
    """Trials per wall minute of ``tune`` over the last ``days`` recorded days under
    ``data_dir`` (loading the days is not timed; scoring the best draw and the baseline on
    both halves is)."""
    folders = list(recorded_days(Path(data_dir)))[-days:]
    loaded = [load_day_bars(f) for f in folders]
    started = time.perf_counter()
    tune(TuneRequest(strategy, {}, BENCH_EXITS, Rules(), trials=trials, seed=seed), loaded)
    return trials * 60.0 / (time.perf_counter() - started)
