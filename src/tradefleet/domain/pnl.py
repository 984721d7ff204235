"""Realized PnL of one round trip (SC-011), in integer won after all costs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tradefleet.domain.costs import CostModel
from tradefleet.domain.markets import Market

TradeResult = Literal["win", "loss", "flat"]


@dataclass(frozen=True, slots=True)
class TradePnl:
    gross: int      # sell_amount - buy_amount
    fees: int       # buy commission + sell commission
    taxes: int      # sell-side taxes: transaction tax + rural special tax
    net: int        # gross - fees - taxes
    result: TradeResult
    transaction_tax: int = 0
    rural_special_tax: int = 0
    market: Market | None = None    # whose taxes were charged; None = unknown, the highest


def compute_trade_pnl(buy_amount: int, sell_amount: int, costs: CostModel,
                      market: Market | None) -> TradePnl:
    """net = sell − buy − buy fee − sell fee − the market's sell taxes; result judged on net.
    ``market`` is required so that no caller forgets it; None (not known) charges the
    highest tax any market would (see CostModel.sell_taxes)."""
    for name, value in (("buy_amount", buy_amount), ("sell_amount", sell_amount)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative int (won), got {value!r}")
    gross = sell_amount - buy_amount
    fees = costs.buy_fee(buy_amount) + costs.sell_fee(sell_amount)
    taxes = costs.sell_taxes(sell_amount, market)
    net = gross - fees - taxes.total
    result: TradeResult = "win" if net > 0 else "loss" if net < 0 else "flat"
    return TradePnl(gross=gross, fees=fees, taxes=taxes.total, net=net, result=result,
                    transaction_tax=taxes.transaction, rural_special_tax=taxes.rural_special,
                    market=taxes.market)
