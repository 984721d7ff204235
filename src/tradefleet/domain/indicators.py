"""Vectorised indicators over a (symbols × bars) array, oldest bar first.

Inputs are converted to float64 so missing bars can be NaN (symbols with a short
history are left-padded with NaN); any window touching a NaN yields NaN, and NaN
compares False, so a symbol with too few bars never produces a signal.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _as_2d_float(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D (symbols x bars) array, got shape {arr.shape}")
    return arr


def _rolling(values: np.ndarray, window: int, reducer) -> np.ndarray:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    arr = _as_2d_float(values)
    out = np.full(arr.shape, np.nan)
    if arr.shape[1] >= window:
        out[:, window - 1:] = reducer(sliding_window_view(arr, window, axis=1), axis=2)
    return out


def sma(closes: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average ending at each bar; NaN until ``window`` bars exist."""
    return _rolling(closes, window, np.mean)


def rolling_high(values: np.ndarray, window: int) -> np.ndarray:
    """Highest value of the ``window`` bars ending at each bar; NaN until enough bars."""
    return _rolling(values, window, np.max)


def breakout(closes: np.ndarray, window: int) -> np.ndarray:
    """True where a bar closes above the high of the ``window`` bars before it."""
    arr = _as_2d_float(closes)
    prior_high = np.full(arr.shape, np.nan)
    prior_high[:, 1:] = rolling_high(arr, window)[:, :-1]
    with np.errstate(invalid="ignore"):
        return arr > prior_high


def _last_window(values: np.ndarray, window: int) -> np.ndarray | None:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    arr = _as_2d_float(values)
    return arr[:, -window:] if arr.shape[1] >= window else None


def last_sma(closes: np.ndarray, window: int) -> np.ndarray:
    """``sma(closes, window)[:, -1]`` without computing the whole history (the scan hot path)."""
    tail = _last_window(closes, window)
    return np.full(len(closes), np.nan) if tail is None else tail.mean(axis=1)


def last_high(values: np.ndarray, window: int) -> np.ndarray:
    """``rolling_high(values, window)[:, -1]``; NaN when a symbol lacks ``window`` bars."""
    tail = _last_window(values, window)
    return np.full(len(values), np.nan) if tail is None else tail.max(axis=1)
