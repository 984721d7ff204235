"""Vectorised KRX tick arithmetic for the simulator (NumPy arrays of int64 won).

Mirrors the unified KOSPI/KOSDAQ tick table in force since 2023; the scalar, authoritative
version for the worker belongs in ``domain/krx.py``."""

from __future__ import annotations

import numpy as np

# (upper bound exclusive, tick)
_BOUNDS = np.array([2_000, 5_000, 20_000, 50_000, 200_000, 500_000], dtype=np.int64)
_TICKS = np.array([1, 5, 10, 50, 100, 500, 1_000], dtype=np.int64)
ALL_TICKS: tuple[int, ...] = tuple(int(t) for t in _TICKS)


def tick_of(prices: np.ndarray) -> np.ndarray:
    """Tick size at each price."""
    return _TICKS[np.searchsorted(_BOUNDS, prices, side="right")]


def round_nearest(prices: np.ndarray) -> np.ndarray:
    """Round float/int prices to the nearest valid tick (band edges are valid on both sides)."""
    p = np.asarray(prices, dtype=np.float64)
    ticks = tick_of(np.floor(p).astype(np.int64))
    return (np.rint(p / ticks) * ticks).astype(np.int64)


def round_down(prices: np.ndarray) -> np.ndarray:
    p = np.asarray(prices, dtype=np.int64)
    ticks = tick_of(p)
    return p // ticks * ticks


def round_up(prices: np.ndarray) -> np.ndarray:
    p = np.asarray(prices, dtype=np.int64)
    down = round_down(p)
    up = down + tick_of(down)
    return np.where(down == p, p, round_down(up))


def limits(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) daily limits: base ∓ 30 %, pulled inside onto valid ticks."""
    b = np.asarray(base, dtype=np.int64)
    return round_up(b * 7 // 10 + (b * 7 % 10 > 0)), round_down(b * 13 // 10)


def step_ticks(prices: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Move each price ``n`` ticks (negative = down), one tick at a time so band edges are
    handled exactly; n is small (book levels), so the loop is short."""
    p = np.asarray(prices, dtype=np.int64).copy()
    n = np.broadcast_to(np.asarray(n, dtype=np.int64), p.shape)
    for _ in range(int(np.abs(n).max(initial=0))):
        up = n > 0
        down = n < 0
        p = np.where(up, p + tick_of(p), p)
        p = np.where(down, p - tick_of(p - 1), p)
        n = n - np.sign(n)
    return p


def is_valid_tick(price: int) -> bool:
    return price > 0 and price % int(tick_of(np.array([price]))[0]) == 0
