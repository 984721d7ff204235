"""Entry sizing and the pre-trade risk gate (SC-005, EC-004)."""

from __future__ import annotations

from dataclasses import dataclass

DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
CAPITAL_LIMIT = "CAPITAL_LIMIT"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    capital_limit: int      # won per position
    daily_loss_limit: int   # won; positive magnitude of the largest allowed daily loss

    def __post_init__(self) -> None:
        for name in ("capital_limit", "daily_loss_limit"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int (won), got {value!r}")


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    allowed: bool
    rule: str | None
    detail: str


def entry_qty(capital_limit: int, price: int, buyable_qty: int | None = None) -> int:
    """Shares to buy: capital_limit // price, capped by what the broker says is buyable."""
    if price <= 0:
        raise ValueError(f"price must be > 0, got {price}")
    if capital_limit < 0:
        raise ValueError(f"capital_limit must be >= 0, got {capital_limit}")
    qty = capital_limit // price
    if buyable_qty is not None:
        qty = min(qty, max(buyable_qty, 0))
    return qty


def check_entry(
    limits: RiskLimits, *, realized_pnl_today: int, order_value: int, expected_loss: int
) -> RiskVerdict:
    """Refuse an entry that could break the capital or the daily loss limit.

    The loss side counts today's realized loss plus what this trade may lose if its
    stop-loss fires; a profitable day does not extend the budget.
    """
    if order_value < 0:
        raise ValueError(f"order_value must be >= 0, got {order_value}")
    if expected_loss < 0:
        raise ValueError(f"expected_loss must be >= 0, got {expected_loss}")
    if order_value > limits.capital_limit:
        return RiskVerdict(
            False,
            CAPITAL_LIMIT,
            f"order value {order_value} exceeds capital limit {limits.capital_limit}",
        )
    realized_loss = max(0, -realized_pnl_today)
    if realized_loss + expected_loss > limits.daily_loss_limit:
        return RiskVerdict(
            False,
            DAILY_LOSS_LIMIT,
            f"realized loss {realized_loss} + expected loss {expected_loss} "
            f"exceeds daily loss limit {limits.daily_loss_limit}",
        )
    return RiskVerdict(True, None, "within limits")
