"""KRX tick table, tick rounding and daily limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradefleet.domain.krx import (
    buy_limit_price,
    daily_limits,
    is_valid_order_price,
    round_to_tick,
    sell_limit_price,
    tick_size,
)

# The published 2023+ table, written out independently of the module's constant.
BANDS = [(0, 1_999, 1), (2_000, 4_999, 5), (5_000, 19_999, 10), (20_000, 49_999, 50),
         (50_000, 199_999, 100), (200_000, 499_999, 500), (500_000, 5_000_000, 1_000)]


def expected_tick(price: int) -> int:
    return next(tick for low, high, tick in BANDS if low <= price <= high)


@pytest.mark.parametrize("low,high,tick", BANDS)
def test_tick_table_band_edges(low, high, tick):
    assert tick_size(low) == tick
    assert tick_size(high) == tick


def test_tick_table_rejects_negative():
    with pytest.raises(ValueError, match="price"):
        tick_size(-1)


@pytest.mark.parametrize(
    "price,down,up",
    [(1_999, 1_999, 1_999), (2_001, 2_000, 2_005), (4_999, 4_995, 5_000),
     (19_995, 19_990, 20_000), (49_990, 49_950, 50_000), (123_456, 123_400, 123_500),
     (499_999, 499_500, 500_000), (500_001, 500_000, 501_000)],
)
def test_rounding_examples(price, down, up):
    assert buy_limit_price(price) == down
    assert sell_limit_price(price) == up


def test_rounding_accepts_decimal():
    assert round_to_tick(Decimal("10003.7"), up=False) == 10_000
    assert round_to_tick(Decimal("10003.7"), up=True) == 10_010


def _on_tick(price: int) -> bool:
    return price > 0 and price % expected_tick(price) == 0


@given(base=st.integers(min_value=1_000, max_value=2_000_000), frac=st.floats(0.0, 1.0))
def test_rounding_stays_on_tick_and_inside_limits(base, frac):
    lower, upper = daily_limits(base)
    raw = Decimal(lower) + (Decimal(upper - lower) * Decimal(str(frac)))
    buy, sell = buy_limit_price(raw), sell_limit_price(raw)
    for price in (buy, sell):
        assert _on_tick(price)
        assert lower <= price <= upper
        assert is_valid_order_price(price, base)
    assert buy <= raw <= sell
    # No valid tick is skipped: the gap is at most one tick of the band.
    assert sell - buy <= expected_tick(sell)


@given(base=st.integers(min_value=100, max_value=3_000_000))
def test_daily_limits_are_inward_ticks(base):
    lower, upper = daily_limits(base)
    exact_up, exact_low = Decimal(base) * Decimal("1.3"), Decimal(base) * Decimal("0.7")
    assert _on_tick(upper) and _on_tick(lower)
    assert upper <= exact_up < upper + expected_tick(upper) + 1
    assert exact_low <= lower < exact_low + expected_tick(lower)


def test_daily_limits_example():
    # 10,000 * 1.3 = 13,000 and * 0.7 = 7,000: already on 10-won ticks.
    assert daily_limits(10_000) == (7_000, 13_000)
    # 1,234 -> 1,604.2 down to 1,604 (1-won ticks) / 863.8 up to 864.
    assert daily_limits(1_234) == (864, 1_604)
    # 38,000 -> 49,400 (50-won tick) / 26,600.
    assert daily_limits(38_000) == (26_600, 49_400)


def test_valid_order_price_rejects_off_tick_and_out_of_band():
    assert is_valid_order_price(10_010, 10_000)
    assert not is_valid_order_price(10_005, 10_000)
    assert not is_valid_order_price(13_010, 10_000)
    assert not is_valid_order_price(6_990, 10_000)
