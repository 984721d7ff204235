"""Fees, tax and realized PnL in exact integer won (SC-011)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradefleet.domain.costs import DEFAULT_COSTS, CostModel
from tradefleet.domain.pnl import compute_trade_pnl

COSTS = CostModel(Decimal("0.00015"), Decimal("0.00015"), Decimal("0.0020"))


def floor_frac(amount: int, rate: str) -> int:
    # Exact rational arithmetic, independent of the Decimal path in the code.
    return int(Fraction(amount) * Fraction(rate) // 1)


def test_fee_truncates_below_one_won():
    # 1,234,567 * 0.00015 = 185.18505 -> 185; * 0.002 = 2469.134 -> 2469
    assert COSTS.buy_fee(1_234_567) == 185
    assert COSTS.sell_tax(1_234_567) == 2_469
    assert COSTS.buy_fee(6_666) == 0  # 0.9999 won


@given(amount=st.integers(0, 10**12))
def test_costs_exact_for_large_amounts(amount):
    assert COSTS.buy_fee(amount) == floor_frac(amount, "0.00015")
    assert COSTS.sell_fee(amount) == floor_frac(amount, "0.00015")
    assert COSTS.sell_tax(amount) == floor_frac(amount, "0.0020")


@given(buy=st.integers(0, 10**11), sell=st.integers(0, 10**11))
def test_pnl_identity(buy, sell):
    pnl = compute_trade_pnl(buy, sell, COSTS)
    fees = floor_frac(buy, "0.00015") + floor_frac(sell, "0.00015")
    tax = floor_frac(sell, "0.0020")
    assert (pnl.gross, pnl.fees, pnl.taxes) == (sell - buy, fees, tax)
    assert pnl.net == sell - buy - fees - tax
    assert pnl.result == ("win" if pnl.net > 0 else "loss" if pnl.net < 0 else "flat")
    assert all(isinstance(v, int) for v in (pnl.gross, pnl.fees, pnl.taxes, pnl.net))


def test_pnl_worked_example():
    # 100 shares bought at 10,000 and sold at 10,300.
    pnl = compute_trade_pnl(1_000_000, 1_030_000, DEFAULT_COSTS)
    assert pnl.fees == 150 + 154        # 150.0 and 154.5 -> 154
    assert pnl.taxes == 2_060
    assert pnl.net == 30_000 - 304 - 2_060
    assert pnl.result == "win"


def test_small_gain_eaten_by_costs_is_a_loss():
    pnl = compute_trade_pnl(1_000_000, 1_001_000, DEFAULT_COSTS)
    assert pnl.gross > 0 and pnl.result == "loss"


def test_flat_result():
    assert compute_trade_pnl(0, 0, DEFAULT_COSTS).result == "flat"


def test_bad_input_names_field():
    with pytest.raises(ValueError, match="sell_amount"):
        compute_trade_pnl(1_000, -1, COSTS)
    with pytest.raises(ValueError, match="buy_amount"):
        compute_trade_pnl(1000.0, 1_000, COSTS)  # float money is refused
    with pytest.raises(ValueError, match="sell_tax_rate"):
        CostModel(Decimal("0.00015"), Decimal("0.00015"), 0.002)
