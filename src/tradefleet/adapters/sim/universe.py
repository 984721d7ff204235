"""Synthetic KRX-like universe: symbols, price levels, liquidity and per-symbol dynamics.

Everything is drawn from ``numpy.random.default_rng([seed, 0])`` so a seed always gives the
same universe. Price levels are spread log-uniformly over 1,000–600,000 won and the first
seven symbols are forced one into each tick band, so every KRX tick size occurs.

Each symbol is also listed on a market (KOSPI, KOSDAQ, ETF, ETN), drawn from its own stream
``default_rng([seed, 1])`` so adding markets left every existing universe as it was. About a
tenth are ETFs (at least one from three symbols up) and one ETN from ten up, so costs by market
(ETFs pay no transaction tax) can be tested. The engine prices them all on the stock tick table:
ETF/ETN ticks may differ at KRX (unverified), and the simulator does not model that."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tradefleet.adapters.sim import ticks

STEP_SECONDS = 10                      # sim-time granularity of the market
STEPS_PER_DAY = 390 * 60 // STEP_SECONDS
_BAND_LOW = np.array([1_000, 2_000, 5_000, 20_000, 50_000, 200_000, 500_000])
_BAND_HIGH = np.array([2_000, 5_000, 20_000, 50_000, 200_000, 500_000, 600_000])


@dataclass(frozen=True)
class Universe:
    symbols: tuple[str, ...]
    prev_close: np.ndarray     # int64 won, valid tick; base price for the limits
    prev_high: np.ndarray
    prev_low: np.ndarray
    lower_limit: np.ndarray
    upper_limit: np.ndarray
    sigma: np.ndarray          # float, log-return std per step
    drift: np.ndarray          # float, log drift per step once momentum starts (0 = none)
    momentum_from: np.ndarray  # int, step index at which the drift switches on
    shares_per_step: np.ndarray  # float, mean traded shares per step
    depth: np.ndarray          # int64 shares resting at each of the book levels
    spread_ticks: np.ndarray   # int64 >= 1
    thin: np.ndarray           # bool
    markets: tuple[str, ...]   # "KOSPI" | "KOSDAQ" | "ETF" | "ETN", per symbol

    def name_of(self, symbol: str) -> str:
        """The display name the simulator gives a symbol (as in its quotes and balance)."""
        return f"SIM{symbol}"


def build_universe(seed: int, n_symbols: int) -> Universe:
    if n_symbols < 1:
        raise ValueError("n_symbols: must be >= 1")
    rng = np.random.default_rng([seed, 0])
    codes = rng.choice(np.arange(1, 99_999), size=n_symbols, replace=False) * 10
    symbols = tuple(f"{int(c):06d}" for c in codes)

    log_price = rng.uniform(np.log(1_000), np.log(600_000), n_symbols)
    forced = min(n_symbols, len(_BAND_LOW))
    log_price[:forced] = rng.uniform(np.log(_BAND_LOW[:forced]), np.log(_BAND_HIGH[:forced]))
    prev_close = ticks.round_nearest(np.exp(log_price))
    lower, upper = ticks.limits(prev_close)

    daily_vol = rng.uniform(0.01, 0.05, n_symbols)
    sigma = daily_vol / np.sqrt(STEPS_PER_DAY)
    has_momentum = rng.random(n_symbols) < 0.12
    drift = np.where(has_momentum, rng.uniform(0.03, 0.12, n_symbols) / STEPS_PER_DAY, 0.0)
    momentum_from = rng.integers(0, STEPS_PER_DAY // 2, n_symbols)

    thin = rng.random(n_symbols) < 0.15
    traded_value = np.exp(rng.uniform(np.log(2e9), np.log(5e11), n_symbols))
    traded_value = np.where(thin, np.exp(rng.uniform(np.log(5e6), np.log(2e8), n_symbols)),
                            traded_value)
    shares_per_step = traded_value / prev_close / STEPS_PER_DAY
    depth = np.maximum(1, np.rint(shares_per_step * np.where(thin, 0.5, 3.0))).astype(np.int64)
    spread_ticks = np.where(thin, rng.integers(3, 9, n_symbols),
                            rng.integers(1, 3, n_symbols)).astype(np.int64)

    gap = rng.uniform(0.005, 0.04, n_symbols)
    prev_high = np.minimum(ticks.round_up(np.rint(prev_close * (1 + gap)).astype(np.int64)),
                           upper)
    prev_low = np.maximum(ticks.round_down(np.rint(prev_close * (1 - gap)).astype(np.int64)),
                          lower)
    return Universe(symbols, prev_close, prev_high, prev_low, lower, upper, sigma, drift,
                    momentum_from, shares_per_step, depth, spread_ticks, thin,
                    assign_markets(seed, n_symbols))


def assign_markets(seed: int, n_symbols: int) -> tuple[str, ...]:
    """A deterministic market per symbol: ~10% ETF (>= 1 from 3 symbols), one ETN from 10,
    the rest KOSPI or KOSDAQ (both present from 2 symbols)."""
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(n_symbols)
    n_etf = max(1, round(n_symbols * 0.1)) if n_symbols >= 3 else 0
    n_etn = 1 if n_symbols >= 10 else 0
    markets = ["KOSPI" if rng.random() < 0.5 else "KOSDAQ" for _ in range(n_symbols)]
    stocks = order[n_etf + n_etn:]
    if len(stocks) >= 2:                     # both stock markets occur
        markets[int(stocks[0])], markets[int(stocks[1])] = "KOSPI", "KOSDAQ"
    for i in order[:n_etf]:
        markets[int(i)] = "ETF"
    for i in order[n_etf:n_etf + n_etn]:
        markets[int(i)] = "ETN"
    return tuple(markets)
