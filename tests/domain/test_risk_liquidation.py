"""Entry sizing, the risk gate (EC-004) and liquidation order (SC-008)."""

from __future__ import annotations

import pytest

from tradefleet.domain.liquidation import liquidation_priority
from tradefleet.domain.risk import RiskLimits, check_entry, entry_qty

LIMITS = RiskLimits(capital_limit=1_000_000, daily_loss_limit=50_000)


def test_entry_qty():
    assert entry_qty(1_000_000, 33_000) == 30           # 990,000 won
    assert entry_qty(1_000_000, 33_000, buyable_qty=12) == 12
    assert entry_qty(1_000_000, 33_000, buyable_qty=100) == 30
    assert entry_qty(1_000_000, 1_000_001) == 0
    with pytest.raises(ValueError, match="price"):
        entry_qty(1_000_000, 0)


def test_allowed_within_limits():
    v = check_entry(LIMITS, realized_pnl_today=-30_000, order_value=990_000,
                    expected_loss=19_800)
    assert v.allowed and v.rule is None


def test_daily_loss_limit_counts_realized_plus_expected():
    # 30,001 lost + 20,000 at risk = 50,001 > 50,000
    v = check_entry(LIMITS, realized_pnl_today=-30_001, order_value=1_000_000,
                    expected_loss=20_000)
    assert (v.allowed, v.rule) == (False, "DAILY_LOSS_LIMIT")
    # exactly at the limit is still allowed
    assert check_entry(LIMITS, realized_pnl_today=-30_000, order_value=1_000_000,
                       expected_loss=20_000).allowed


def test_profit_today_does_not_extend_loss_budget():
    v = check_entry(LIMITS, realized_pnl_today=500_000, order_value=1_000_000,
                    expected_loss=50_001)
    assert v.rule == "DAILY_LOSS_LIMIT"


def test_capital_limit():
    v = check_entry(LIMITS, realized_pnl_today=0, order_value=1_000_001, expected_loss=0)
    assert (v.allowed, v.rule) == (False, "CAPITAL_LIMIT")
    assert "1000001" in v.detail


def test_bad_limits_name_field():
    with pytest.raises(ValueError, match="daily_loss_limit"):
        RiskLimits(capital_limit=1, daily_loss_limit=0)
    with pytest.raises(ValueError, match="capital_limit"):
        RiskLimits(capital_limit=1.5, daily_loss_limit=1)


def test_liquidation_least_liquid_first():
    items = [("005930", 10, 900_000_000_000), ("123456", 500, 40_000_000),
             ("222222", 5, 40_000_000), ("333333", 0, 1), ("011170", 7, 3_000_000_000)]
    assert liquidation_priority(items) == ["123456", "222222", "011170", "005930", "333333"]
    assert liquidation_priority([]) == []
