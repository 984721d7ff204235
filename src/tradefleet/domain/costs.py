"""Trading costs: broker commission on both sides and the transaction tax on sells.

Rounding: brokers truncate commission below 1 won and the tax is truncated to the won,
so every amount here is floor(amount × rate) computed exactly in Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal


def _floor_won(amount: int, rate: Decimal) -> int:
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    return int((Decimal(amount) * rate).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class CostModel:
    buy_commission_rate: Decimal
    sell_commission_rate: Decimal
    sell_tax_rate: Decimal

    def __post_init__(self) -> None:
        for name in ("buy_commission_rate", "sell_commission_rate", "sell_tax_rate"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not Decimal(0) <= value < Decimal(1):
                raise ValueError(f"{name} must be a Decimal in [0, 1), got {value!r}")

    def buy_fee(self, amount: int) -> int:
        return _floor_won(amount, self.buy_commission_rate)

    def sell_fee(self, amount: int) -> int:
        return _floor_won(amount, self.sell_commission_rate)

    def sell_tax(self, amount: int) -> int:
        return _floor_won(amount, self.sell_tax_rate)


# 0.015% commission each way (typical online rate); 0.20% sell-side tax (2026 rate).
DEFAULT_COSTS = CostModel(
    buy_commission_rate=Decimal("0.00015"),
    sell_commission_rate=Decimal("0.00015"),
    sell_tax_rate=Decimal("0.0020"),
)
