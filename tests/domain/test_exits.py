"""Exit rules: each reason, priority, and the hold case (SC-006/SC-007)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tradefleet.domain.calendar import SEOUL
from tradefleet.domain.exits import ExitParams, evaluate_exit
from tradefleet.domain.orders import OrderPurpose

PARAMS = ExitParams(stop_loss_pct=Decimal("2.0"), take_profit_pct=Decimal("3.0"),
                    trend_ma_window=5, time_exit_minutes=5)
LIQ = datetime(2026, 11, 24, 15, 15, tzinfo=SEOUL)
EARLY = LIQ - timedelta(hours=3)
ENTRY = Decimal("10000")


def run(price, *, short_ma=None, now=EARLY, entry=ENTRY):
    return evaluate_exit(entry_price=entry, price=price, short_ma=short_ma, now=now,
                         liquidation_at=LIQ, params=PARAMS)


def test_hold_when_nothing_triggers():
    d = run(10_100, short_ma=Decimal("10050"))
    assert d.reason is None
    assert d.checks == {"stop_loss": False, "take_profit": False,
                        "trend_break": False, "time_exit": False}
    assert d.pnl_pct == (Decimal(10_100) - ENTRY) / ENTRY * 100


@pytest.mark.parametrize(
    "price,short_ma,now,reason",
    [(9_800, None, EARLY, OrderPurpose.STOP_LOSS),          # exactly -2%
     (10_300, None, EARLY, OrderPurpose.TAKE_PROFIT),       # exactly +3%
     (10_050, Decimal("10060"), EARLY, OrderPurpose.TREND_BREAK),
     (10_050, None, LIQ - timedelta(minutes=5), OrderPurpose.TIME_EXIT)],
)
def test_each_reason(price, short_ma, now, reason):
    d = run(price, short_ma=short_ma, now=now)
    assert d.reason == reason
    assert sum(d.checks.values()) == 1


def test_just_inside_thresholds_holds():
    assert run(9_801).reason is None            # -1.99%
    assert run(10_299).reason is None           # +2.99%
    assert run(10_050, now=LIQ - timedelta(minutes=5, seconds=1)).reason is None


def test_priority_and_all_checks_reported():
    d = run(9_700, short_ma=Decimal("9900"), now=LIQ)
    assert d.checks == {"stop_loss": True, "take_profit": False,
                        "trend_break": True, "time_exit": True}
    assert d.reason == OrderPurpose.STOP_LOSS
    d = run(10_400, short_ma=Decimal("10500"), now=LIQ)
    assert d.reason == OrderPurpose.TAKE_PROFIT
    d = run(10_000, short_ma=Decimal("10500"), now=LIQ)
    assert d.reason == OrderPurpose.TREND_BREAK


def test_fractional_entry_price_exact():
    # 10,000 / 9,708.7 = +3.0004% (take profit); 10,000 / 9,709 = +2.997% (hold).
    assert run(10_000, entry=Decimal("9708.7")).reason == OrderPurpose.TAKE_PROFIT
    assert run(10_000, entry=Decimal("9709")).reason is None


def test_bad_params_name_field():
    with pytest.raises(ValueError, match="stop_loss_pct"):
        ExitParams(stop_loss_pct=Decimal("0"), take_profit_pct=Decimal("3"),
                   trend_ma_window=5, time_exit_minutes=5)
    with pytest.raises(ValueError, match="take_profit_pct"):
        ExitParams(stop_loss_pct=Decimal("2"), take_profit_pct=3.0,
                   trend_ma_window=5, time_exit_minutes=5)
