"""KRX price rules: the unified (2023+) tick table and the ±30% daily price limits.

An order at a price that is not on a valid tick is rejected by the exchange, so every
limit price we send goes through these functions. Buys round down (never pay more than
intended) and sells round up (never sell cheaper than intended).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

# (exclusive upper bound of the price band, tick size); the last band is open-ended.
TICK_TABLE: tuple[tuple[int, int], ...] = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
)
TOP_TICK = 1_000
DAILY_LIMIT_RATE = Decimal("0.30")


def tick_size(price: int) -> int:
    """Tick size that applies to ``price`` (won)."""
    if price < 0:
        raise ValueError(f"price must be >= 0, got {price}")
    for bound, tick in TICK_TABLE:
        if price < bound:
            return tick
    return TOP_TICK


def round_to_tick(price: int | Decimal, *, up: bool) -> int:
    """Round ``price`` onto a valid KRX tick, up or down."""
    value = Decimal(price)
    if value < 0:
        raise ValueError(f"price must be >= 0, got {price}")
    # The band of floor(price) decides the tick. Rounding up may land exactly on the
    # bound of the next band, which is still valid: each bound is a multiple of the
    # coarser tick above it.
    tick = tick_size(int(value.to_integral_value(rounding=ROUND_FLOOR)))
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    return int((value / tick).to_integral_value(rounding=rounding)) * tick


def buy_limit_price(price: int | Decimal) -> int:
    """Limit price for a buy: the highest valid tick not above ``price``."""
    return round_to_tick(price, up=False)


def sell_limit_price(price: int | Decimal) -> int:
    """Limit price for a sell: the lowest valid tick not below ``price``."""
    return round_to_tick(price, up=True)


def is_on_tick(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def daily_limits(base_price: int) -> tuple[int, int]:
    """(lower, upper) price limits: base ±30%, each rounded inward onto a valid tick."""
    if base_price <= 0:
        raise ValueError(f"base_price must be > 0, got {base_price}")
    swing = Decimal(base_price) * DAILY_LIMIT_RATE
    upper = round_to_tick(Decimal(base_price) + swing, up=False)
    lower = round_to_tick(Decimal(base_price) - swing, up=True)
    return max(lower, 1), upper


def is_valid_order_price(price: int, base_price: int) -> bool:
    """True when ``price`` is on a tick and inside the day's limits."""
    lower, upper = daily_limits(base_price)
    return is_on_tick(price) and lower <= price <= upper
