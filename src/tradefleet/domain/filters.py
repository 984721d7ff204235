"""Pre-filters applied to the whole universe before any indicator work (SC-002 step 2).

Vectorised over all symbols at once; each symbol also gets the names of the filters that
rejected it so the scan can explain its choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tradefleet.domain.krx import TICK_TABLE, TOP_TICK
from tradefleet.domain.market import Quote

MIN_VOLUME = "min_volume"
MIN_TRADED_VALUE = "min_traded_value"
EMPTY_BOOK = "empty_book"
MAX_SPREAD = "max_spread"

_BOUNDS = np.array([bound for bound, _ in TICK_TABLE], dtype=np.int64)
_TICKS = np.array([tick for _, tick in TICK_TABLE] + [TOP_TICK], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class FilterParams:
    min_volume: int
    min_traded_value: int
    max_spread_ticks: int

    def __post_init__(self) -> None:
        for name in ("min_volume", "min_traded_value", "max_spread_ticks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True, slots=True)
class FilterResult:
    passed: np.ndarray              # bool, one per quote
    rejected_by: list[list[str]]    # filter names per quote, empty when passed


def tick_sizes(prices: np.ndarray) -> np.ndarray:
    """Vectorised KRX tick size for an int array of prices."""
    return _TICKS[np.searchsorted(_BOUNDS, prices, side="right")]


def apply_prefilters(quotes: Sequence[Quote], params: FilterParams) -> FilterResult:
    """Reject thin, illiquid or wide-spread symbols.

    spread in ticks = (ask − bid) / tick size at the bid; a missing bid or ask is its own
    rejection (``empty_book``) and the spread test is then not applied.
    """
    n = len(quotes)
    volume = np.fromiter((q.volume for q in quotes), dtype=np.int64, count=n)
    traded = np.fromiter((q.traded_value for q in quotes), dtype=np.int64, count=n)
    ask = np.fromiter((q.ask for q in quotes), dtype=np.int64, count=n)
    bid = np.fromiter((q.bid for q in quotes), dtype=np.int64, count=n)

    low_volume = volume < params.min_volume
    low_value = traded < params.min_traded_value
    empty = (ask <= 0) | (bid <= 0)
    # Ceiling division: a spread that straddles a tick band counts as the wider one.
    spread_ticks = -((bid - ask) // tick_sizes(np.maximum(bid, 0)))
    wide = ~empty & (spread_ticks > params.max_spread_ticks)

    masks = ((MIN_VOLUME, low_volume), (MIN_TRADED_VALUE, low_value),
             (EMPTY_BOOK, empty), (MAX_SPREAD, wide))
    rejected = low_volume | low_value | empty | wide
    rejected_by: list[list[str]] = [[] for _ in range(n)]
    for name, mask in masks:
        for i in np.flatnonzero(mask):
            rejected_by[i].append(name)
    return FilterResult(passed=~rejected, rejected_by=rejected_by)
