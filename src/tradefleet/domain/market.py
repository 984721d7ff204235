"""Market data as the worker sees it: quotes and minute bars. Prices are integer won."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price: int                  # last trade
    volume: int                 # accumulated today (shares)
    traded_value: int           # accumulated today (won)
    change_rate: Decimal        # % vs previous close
    open: int
    high: int
    low: int
    prev_high: int
    prev_low: int
    prev_close: int             # base price for the daily limit
    ask: int                    # best ask (0 when the book side is empty)
    bid: int                    # best bid (0 when the book side is empty)
    upper_limit: int
    lower_limit: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Bar:
    """One minute candle; ``start`` is the minute's opening time (Asia/Seoul, aware)."""

    symbol: str
    start: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class Holding:
    symbol: str
    qty: int
    avg_price: Decimal


@dataclass(frozen=True, slots=True)
class Balance:
    cash: int                   # orderable cash (KIS ord_psbl_cash semantics)
    holdings: tuple[Holding, ...]
