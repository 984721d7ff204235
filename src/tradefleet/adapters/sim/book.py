"""The order book around the last price: a spread in ticks that widens with illiquidity and
``LEVELS`` price levels per side of finite depth. There is no market impact: our fills do not
move the tape (the simulated account is small next to the market)."""

from __future__ import annotations

import numpy as np

from tradefleet.adapters.sim import ticks

LEVELS = 5


def best_bid_ask(price: np.ndarray, spread: np.ndarray, lower: np.ndarray,
                 upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bid, ask) per symbol; 0 where that side is empty (price pinned at a limit)."""
    bid = ticks.step_ticks(price, -(spread // 2))
    ask = ticks.step_ticks(bid, spread)
    bid = np.where(bid < lower, 0, bid)
    ask = np.where(ask > upper, 0, ask)
    return bid, ask


def walk(best: int, side_up: bool, depth: int, qty: int, worst: int) -> list[tuple[int, int]]:
    """Fills (price, qty) taking up to ``depth`` shares per level from ``best`` outwards,
    never beyond ``worst`` (the limit price, or the daily limit for market orders)."""
    fills: list[tuple[int, int]] = []
    if best <= 0 or qty <= 0:
        return fills
    level = np.array([best], dtype=np.int64)
    for _ in range(LEVELS):
        price = int(level[0])
        if (side_up and price > worst) or (not side_up and price < worst):
            break
        take = min(depth, qty)
        fills.append((price, take))
        qty -= take
        if qty == 0:
            break
        level = ticks.step_ticks(level, 1 if side_up else -1)
    return fills
