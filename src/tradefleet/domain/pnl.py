"""Realized PnL of one round trip (SC-011), in integer won after all costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tradefleet.domain.costs import CostModel

TradeResult = Literal["win", "loss", "flat"]


@dataclass(frozen=True, slots=True)
class TradePnl:
    gross: int      # sell_amount - buy_amount
    fees: int       # buy commission + sell commission
    taxes: int      # sell-side transaction tax
    net: int        # gross - fees - taxes
    result: TradeResult


def compute_trade_pnl(buy_amount: int, sell_amount: int, costs: CostModel) -> TradePnl:
    """net = sell − buy − buy fee − sell fee − sell tax; result judged on net."""
    for name, value in (("buy_amount", buy_amount), ("sell_amount", sell_amount)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int (won), got {value!r}")
    gross = sell_amount - buy_amount
    fees = costs.buy_fee(buy_amount) + costs.sell_fee(sell_amount)
    taxes = costs.sell_tax(sell_amount)
    net = gross - fees - taxes
    result: TradeResult = "win" if net > 0 else "loss" if net < 0 else "flat"
    return TradePnl(gross=gross, fees=fees, taxes=taxes, net=net, result=result)
