"""Fees, taxes by market and realized PnL in exact integer won (SC-011). Expected figures are
worked by hand in the comments; the property tests recompute them with Fractions, a path
independent of the Decimal one in the code."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradefleet.domain.costs import (
    DEFAULT_COSTS,
    KRX_SELL_TAX_RATES,
    TAX_RATES_APPLY_FROM,
    CostModel,
    SellTaxRates,
)
from tradefleet.domain.markets import Market
from tradefleet.domain.pnl import compute_trade_pnl

COSTS = CostModel(Decimal("0.00015"), Decimal("0.00015"))
# (transaction tax, rural special tax) by market, as the 2026 law reads (domain/costs.py)
LAW_2026 = {Market.KOSPI: ("0.0005", "0.0015"), Market.KOSDAQ: ("0.0020", "0"),
            Market.KONEX: ("0.0010", "0"), Market.ETF: ("0", "0"), Market.ETN: ("0", "0")}


def floor_frac(amount: int, rate: str) -> int:
    return int(Fraction(amount) * Fraction(rate) // 1)


def test_fee_truncates_below_one_won():
    # 1,234,567 * 0.00015 = 185.18505 -> 185
    assert COSTS.buy_fee(1_234_567) == 185
    assert COSTS.sell_fee(6_666) == 0  # 0.9999 won


def test_the_rates_are_the_2026_law():
    assert TAX_RATES_APPLY_FROM.isoformat() == "2026-01-01"
    assert {m: (str(r.transaction), str(r.rural_special))
            for m, r in KRX_SELL_TAX_RATES.items()} == LAW_2026


@pytest.mark.parametrize(("market", "amount", "transaction", "rural"), [
    # KOSPI 10,000,000: 0.05% = 5,000 and 0.15% = 15,000
    (Market.KOSPI, 10_000_000, 5_000, 15_000),
    # KOSPI 201,000 (20 x 10,050): 100.5 -> 100 and 301.5 -> 301, total 401,
    # where truncating the 0.20% sum (402.0) would charge 402
    (Market.KOSPI, 201_000, 100, 301),
    # KOSPI 1,234,567: 617.2835 -> 617 and 1,851.8505 -> 1,851 = 2,468 (sum-then-floor 2,469)
    (Market.KOSPI, 1_234_567, 617, 1_851),
    # KOSPI 1,999: 0.9995 -> 0 and 2.9985 -> 2 (sum-then-floor 3.998 -> 3)
    (Market.KOSPI, 1_999, 0, 2),
    # KOSDAQ: 0.20% once, no rural special tax: 402.0 -> 402; 2,469.134 -> 2,469; 3.998 -> 3
    (Market.KOSDAQ, 201_000, 402, 0),
    (Market.KOSDAQ, 1_234_567, 2_469, 0),
    (Market.KOSDAQ, 1_999, 3, 0),
    (Market.KOSDAQ, 499, 0, 0),                 # 0.998 -> 0
    # KONEX: 0.10%: 1,234.567 -> 1,234
    (Market.KONEX, 1_234_567, 1_234, 0),
    # ETF and ETN: exempt
    (Market.ETF, 10_000_000, 0, 0),
    (Market.ETN, 10_000_000, 0, 0),
])
def test_sell_taxes_by_market_each_truncated_on_its_own(market, amount, transaction, rural):
    taxes = COSTS.sell_taxes(amount, market)
    assert (taxes.transaction, taxes.rural_special) == (transaction, rural)
    assert taxes.total == transaction + rural == COSTS.sell_tax(amount, market)
    assert taxes.market is market


def test_unknown_market_charges_the_most_any_market_would():
    # 201,000: KOSPI 401, KOSDAQ 402, KONEX 201, ETF 0 -> 402
    assert COSTS.sell_taxes(201_000, None).total == 402
    assert COSTS.sell_taxes(201_000, None).market is None


@given(amount=st.integers(0, 10**12), market=st.sampled_from(list(Market)))
def test_taxes_exact_for_large_amounts(amount, market):
    transaction, rural = LAW_2026[market]
    taxes = COSTS.sell_taxes(amount, market)
    assert taxes.transaction == floor_frac(amount, transaction)
    assert taxes.rural_special == floor_frac(amount, rural)
    assert COSTS.sell_fee(amount) == floor_frac(amount, "0.00015")
    assert COSTS.sell_taxes(amount, None).total == max(
        COSTS.sell_tax(amount, m) for m in Market)


@given(buy=st.integers(0, 10**11), sell=st.integers(0, 10**11),
       market=st.sampled_from([*Market, None]))
def test_pnl_identity(buy, sell, market):
    pnl = compute_trade_pnl(buy, sell, COSTS, market)
    fees = floor_frac(buy, "0.00015") + floor_frac(sell, "0.00015")
    if market is None:
        tax = max(floor_frac(sell, t) + floor_frac(sell, r) for t, r in LAW_2026.values())
    else:
        tax = floor_frac(sell, LAW_2026[market][0]) + floor_frac(sell, LAW_2026[market][1])
    assert (pnl.gross, pnl.fees, pnl.taxes) == (sell - buy, fees, tax)
    assert pnl.taxes == pnl.transaction_tax + pnl.rural_special_tax
    assert pnl.net == sell - buy - fees - tax
    assert pnl.result == ("win" if pnl.net > 0 else "loss" if pnl.net < 0 else "flat")
    assert all(isinstance(v, int) for v in (pnl.gross, pnl.fees, pnl.taxes, pnl.net))


@pytest.mark.parametrize(("market", "taxes", "net"), [
    # 20 shares bought at 10,000 (200,000) and sold at 10,050 (201,000): gross 1,000;
    # fees 30 (30.0) + 30 (30.15) = 60
    (Market.KOSPI, 401, 1_000 - 60 - 401),      # 100 + 301
    (Market.KOSDAQ, 402, 1_000 - 60 - 402),
    (Market.KONEX, 201, 1_000 - 60 - 201),
    (Market.ETF, 0, 1_000 - 60),
    (Market.ETN, 0, 1_000 - 60),
    (None, 402, 1_000 - 60 - 402),              # unknown: the highest, KOSDAQ's
])
def test_round_trip_worked_by_hand_per_market(market, taxes, net):
    pnl = compute_trade_pnl(200_000, 201_000, DEFAULT_COSTS, market)
    assert (pnl.gross, pnl.fees, pnl.taxes, pnl.net) == (1_000, 60, taxes, net)
    assert pnl.market is market and pnl.result == "win"


def test_kospi_round_trip_splits_the_two_taxes():
    # 100 shares bought at 10,000 and sold at 10,300: fees 150 + 154 (154.5);
    # taxes 515 (0.05%) + 1,545 (0.15%)
    pnl = compute_trade_pnl(1_000_000, 1_030_000, DEFAULT_COSTS, Market.KOSPI)
    assert (pnl.fees, pnl.transaction_tax, pnl.rural_special_tax) == (304, 515, 1_545)
    assert pnl.net == 30_000 - 304 - 2_060


def test_small_gain_eaten_by_costs_is_a_loss():
    pnl = compute_trade_pnl(1_000_000, 1_001_000, DEFAULT_COSTS, Market.KOSDAQ)
    assert pnl.gross > 0 and pnl.result == "loss"
    # the same trade in an ETF pays no tax: 1,000 - 150 - 150 (150.15) = 700
    assert compute_trade_pnl(1_000_000, 1_001_000, DEFAULT_COSTS, Market.ETF).net == 700


def test_flat_result():
    assert compute_trade_pnl(0, 0, DEFAULT_COSTS, Market.KOSPI).result == "flat"


def test_bad_input_names_field():
    with pytest.raises(ValueError, match="sell_amount"):
        compute_trade_pnl(1_000, -1, COSTS, Market.KOSPI)
    with pytest.raises(ValueError, match="buy_amount"):
        compute_trade_pnl(1000.0, 1_000, COSTS, Market.KOSPI)  # float money is refused
    with pytest.raises(ValueError, match="sell_commission_rate"):
        CostModel(Decimal("0.00015"), 0.00015)
    with pytest.raises(TypeError):      # the old flat sell-tax argument is gone
        CostModel(Decimal("0.00015"), Decimal("0.00015"), Decimal("0.0020"))
    with pytest.raises(ValueError, match="tax_rates: no rates for .*ETN"):
        CostModel(Decimal("0"), Decimal("0"), tax_rates={
            m: SellTaxRates(Decimal("0"), Decimal("0")) for m in Market if m != Market.ETN})
    with pytest.raises(ValueError, match="rural_special"):
        SellTaxRates(Decimal("0.0005"), Decimal("1.5"))
