"""Pre-filters and indicators against small hand-made inputs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
import pytest

from tradefleet.domain.calendar import SEOUL
from tradefleet.domain.filters import FilterParams, apply_prefilters
from tradefleet.domain.indicators import breakout, last_high, last_sma, rolling_high, sma
from tradefleet.domain.market import Quote

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


def quote(symbol, *, volume=100_000, traded=1_000_000_000, bid=10_000, ask=10_010):
    return Quote(symbol=symbol, price=bid, volume=volume, traded_value=traded,
                 change_rate=Decimal("0"), open=bid, high=bid, low=bid, prev_high=bid,
                 prev_low=bid, prev_close=bid, ask=ask, bid=bid, upper_limit=bid * 2,
                 lower_limit=bid // 2, at=NOW)


def test_prefilters_record_each_rejection():
    params = FilterParams(min_volume=50_000, min_traded_value=500_000_000, max_spread_ticks=2)
    quotes = [
        quote("000001"),                                  # passes, 1 tick
        quote("000002", volume=49_999),                   # thin
        quote("000003", traded=499_999_999),              # low value
        quote("000004", bid=10_000, ask=10_030),          # 3 ticks of 10
        quote("000005", bid=0, ask=10_010),               # empty bid side
        quote("000006", bid=10_000, ask=0, volume=1),     # empty ask + thin
        quote("000007", bid=1_998, ask=2_000),            # 2 ticks of 1 at the bid: ok
        quote("000008", bid=49_950, ask=50_100),          # (150)/50 = 3 ticks
    ]
    result = apply_prefilters(quotes, params)
    assert result.passed.tolist() == [True, False, False, False, False, False, True, False]
    assert result.rejected_by == [
        [], ["min_volume"], ["min_traded_value"], ["max_spread"], ["empty_book"],
        ["min_volume", "empty_book"], [], ["max_spread"],
    ]


def test_prefilters_bad_params_name_field():
    with pytest.raises(ValueError, match="max_spread_ticks"):
        FilterParams(min_volume=0, min_traded_value=0, max_spread_ticks=-1)


def naive_sma(row, window):
    out = []
    for i in range(len(row)):
        if i + 1 < window:
            out.append(np.nan)
        else:
            out.append(sum(row[i + 1 - window:i + 1]) / window)
    return out


def test_sma_and_rolling_high_match_loops():
    closes = np.array([[10, 11, 12, 13, 14, 9], [5, 4, 3, 8, 1, 2]], dtype=np.int64)
    got = sma(closes, 3)
    for r in range(2):
        np.testing.assert_allclose(got[r], naive_sma(list(closes[r]), 3), equal_nan=True)
        want_high = [np.nan, np.nan] + [max(closes[r][i - 2:i + 1]) for i in range(2, 6)]
        np.testing.assert_allclose(rolling_high(closes, 3)[r], want_high, equal_nan=True)


def test_nan_padded_short_history_gives_nan_and_no_breakout():
    closes = np.array([[np.nan, np.nan, 10, 11], [1, 2, 3, 4]], dtype=np.float64)
    assert np.isnan(sma(closes, 3)[0, -1])
    assert sma(closes, 3)[1, -1] == pytest.approx(3.0)
    b = breakout(closes, 3)
    assert b[:, -1].tolist() == [False, True]


def test_breakout_is_against_previous_bars_only():
    closes = np.array([[5, 7, 6, 7, 8, 8]], dtype=np.int64)
    # bar3=7 is not > max(5,7,6); bar4=8 > max(7,6,7); bar5=8 is not > max(6,7,8)
    assert breakout(closes, 3)[0].tolist() == [False, False, False, False, True, False]


def test_window_longer_than_history_is_all_nan():
    assert np.isnan(sma(np.ones((2, 3)), 5)).all()
    with pytest.raises(ValueError, match="window"):
        sma(np.ones((1, 3)), 0)


def test_last_value_helpers_match_full_rolling():
    rng = np.random.default_rng(3)
    closes = rng.integers(100, 200, size=(20, 12)).astype(np.float64)
    closes[0, :8] = np.nan   # short history
    for w in (1, 3, 5, 12):
        np.testing.assert_allclose(last_sma(closes, w), sma(closes, w)[:, -1], equal_nan=True)
        np.testing.assert_allclose(last_high(closes, w), rolling_high(closes, w)[:, -1],
                                   equal_nan=True)
    assert np.isnan(last_sma(closes, 13)).all() and np.isnan(last_high(closes, 13)).all()
