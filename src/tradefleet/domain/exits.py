"""Exit rules for a held position (SC-006/SC-007).

Every evaluation reports all four checks so the monitoring event shows why we did or did
not sell; the reason is the first triggered check in priority order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tradefleet.domain.orders import OrderPurpose

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ExitParams:
    stop_loss_pct: Decimal      # magnitude in percent: 2.0 means sell at -2.0%
    take_profit_pct: Decimal    # percent: 3.0 means sell at +3.0%
    trend_ma_window: int
    time_exit_minutes: int

    def __post_init__(self) -> None:
        if not isinstance(self.stop_loss_pct, Decimal) or self.stop_loss_pct <= 0:
            raise ValueError(
                f"stop_loss_pct must be a positive Decimal, got {self.stop_loss_pct!r}"
            )
        if not isinstance(self.take_profit_pct, Decimal) or self.take_profit_pct <= 0:
            raise ValueError(
                f"take_profit_pct must be a positive Decimal, got {self.take_profit_pct!r}"
            )
        if self.trend_ma_window < 1:
            raise ValueError(f"trend_ma_window must be >= 1, got {self.trend_ma_window}")
        if self.time_exit_minutes < 0:
            raise ValueError(f"time_exit_minutes must be >= 0, got {self.time_exit_minutes}")


@dataclass(frozen=True, slots=True)
class ExitDecision:
    reason: OrderPurpose | None
    checks: dict[str, bool]     # keys: stop_loss, take_profit, trend_break, time_exit
    pnl_pct: Decimal


def evaluate_exit(
    *,
    entry_price: Decimal,
    price: int,
    short_ma: Decimal | None,
    now: datetime,
    liquidation_at: datetime,
    params: ExitParams,
) -> ExitDecision:
    """Evaluate stop-loss, take-profit, trend break and time exit, in that priority."""
    if entry_price <= 0:
        raise ValueError(f"entry_price must be > 0, got {entry_price}")
    if now.tzinfo is None or liquidation_at.tzinfo is None:
        raise ValueError("now and liquidation_at must be timezone-aware")
    pnl_pct = (Decimal(price) - Decimal(entry_price)) * HUNDRED / Decimal(entry_price)
    checks = {
        "stop_loss": pnl_pct <= -params.stop_loss_pct,
        "take_profit": pnl_pct >= params.take_profit_pct,
        "trend_break": short_ma is not None and Decimal(price) < short_ma,
        "time_exit": now >= liquidation_at - timedelta(minutes=params.time_exit_minutes),
    }
    reasons = {
        "stop_loss": OrderPurpose.STOP_LOSS,
        "take_profit": OrderPurpose.TAKE_PROFIT,
        "trend_break": OrderPurpose.TREND_BREAK,
        "time_exit": OrderPurpose.TIME_EXIT,
    }
    reason = next((reasons[name] for name, hit in checks.items() if hit), None)
    return ExitDecision(reason=reason, checks=checks, pnl_pct=pnl_pct)
