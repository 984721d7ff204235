"""Strategy registry, parameter fingerprint, ma_breakout signals and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies import Strategy, get_strategy

PARAMS = {"short": 2, "long": 4, "breakout_window": 3}


def test_param_version_stable_and_sensitive():
    a = get_strategy("ma_breakout", {"short": 3, "long": 10})
    b = get_strategy("ma_breakout", {"long": 10, "short": 3})
    assert a.param_version == b.param_version
    assert len(a.param_version) == 12
    # Defaults are filled in before hashing: explicit default == omitted.
    assert get_strategy("ma_breakout", {}).param_version == get_strategy(
        "ma_breakout", {"short": 5}).param_version
    assert get_strategy("ma_breakout", {"short": 4, "long": 10}).param_version != a.param_version
    assert get_strategy("ma_breakout", {"short": 3, "long": 10, "min_score": 0.01}
                        ).param_version != a.param_version
    assert isinstance(a, Strategy) and a.strategy_version
    assert a.bars_needed == 20  # max(long=10, default breakout_window=20)


@pytest.mark.parametrize(
    "name,params,field",
    [("nope", {}, "strategy.name"), ("ma_breakout", {"short": 0}, "short"),
     ("ma_breakout", {"short": 5, "long": 5}, "short"), ("ma_breakout", {"x": 1}, "x"),
     ("ma_breakout", {"min_score": "high"}, "min_score")],
)
def test_bad_config_names_field(name, params, field):
    with pytest.raises(ConfigError, match=field):
        get_strategy(name, params)


def test_ma_breakout_signals_by_hand():
    s = get_strategy("ma_breakout", PARAMS)
    closes = np.array([
        [10, 11, 12, 13, 14],   # uptrend; prior high (last 3) = 14
        [10, 11, 12, 13, 14],   # same bars, price does not break
        [20, 19, 18, 17, 16],   # downtrend: short < long
        [0, 0, 0, 0, 0],        # placeholder row made NaN below
    ], dtype=np.float64)
    closes[3, :3] = np.nan      # too few bars
    closes[3, 3:] = [10, 11]
    prices = np.array([15, 14, 21, 12])
    r = s.evaluate(closes, np.ones_like(closes), prices)
    # Independent check per row.
    for i, row in enumerate(closes):
        short, long_ = np.mean(row[-2:]), np.mean(row[-4:])
        high = np.max(row[-3:])
        want = bool(prices[i] > high and short > long_)
        assert bool(r.signal[i]) == want
    assert r.signal.tolist() == [True, False, False, False]
    assert r.indicators["prior_high"][0] == 14
    assert r.score[0] == pytest.approx((15 / 14 - 1) + (13.5 / 12.5 - 1))


def test_min_score_gates_weak_signals():
    closes = np.array([[10, 11, 12, 13, 14]], dtype=np.float64)
    weak = get_strategy("ma_breakout", {**PARAMS, "min_score": 1.0})
    assert not weak.evaluate(closes, closes, np.array([15])).signal[0]


def test_full_universe_evaluation_is_fast():
    rng = np.random.default_rng(7)
    closes = rng.integers(1_000, 200_000, size=(2_700, 30)).astype(np.int64)
    volumes = rng.integers(0, 10**6, size=(2_700, 30)).astype(np.int64)
    prices = closes[:, -1] + rng.integers(-100, 100, size=2_700)
    s = get_strategy("ma_breakout", {"short": 5, "long": 20, "breakout_window": 20})
    s.evaluate(closes, volumes, prices)  # warm-up
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        s.evaluate(closes, volumes, prices)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    print(f"ma_breakout 2700x30: best {best * 1000:.2f} ms")
    assert best < 0.1
