"""Ticks as a port: the worker asks for a held symbol's trades and is told whether the feed
is live. Whether they came by the account's WebSocket (through the fleet's feed holder) or
not at all, the worker's rules are the same; when the feed is not live the worker decides
on its poll only (the REST quote), and says so. Fill notices come the same way: each worker
records those of its own orders at once; the order follower (REST) stays the safety net."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class PriceTick:
    """One trade of ``symbol`` at ``price`` won (Asia/Seoul ``at``), as pushed by KIS."""

    symbol: str
    price: int
    at: datetime


@dataclass(frozen=True, slots=True)
class FillNotice:
    """One pushed execution of one order of the account (KIS H0STCNI0/H0STCNI9, CNTG_YN 2):
    ``qty`` shares at ``price`` won at ``executed_hms`` (HHMMSS, KST; the notice has no
    date). ``order_no`` is the broker's order number (ODNO): the only thing that says whose
    order it is. Any order of the account is pushed, a person's included."""

    order_no: str
    symbol: str
    side: str            # "BUY" | "SELL"
    qty: int
    price: int
    executed_hms: str

    def __post_init__(self) -> None:
        if not self.order_no:
            raise ValueError("fill notice field order_no: empty")
        if self.side not in ("BUY", "SELL"):
            raise ValueError(f"fill notice field side: {self.side!r}")
        if not (isinstance(self.qty, int) and self.qty > 0):
            raise ValueError(f"fill notice field qty: {self.qty!r} is not a positive int")
        if not (isinstance(self.price, int) and self.price > 0):
            raise ValueError(f"fill notice field price: {self.price!r} is not a positive int")
        if not (len(self.executed_hms) == 6 and self.executed_hms.isdigit()):
            raise ValueError(f"fill notice field executed_hms: {self.executed_hms!r}")


class FeedState(StrEnum):
    LIVE = "live"        # the holder's session is up and its heartbeat is fresh
    STALE = "stale"      # no word from any holder for longer than the stale limit
    DOWN = "down"        # the holder says its WebSocket is down, or we cannot listen


TickHandler = Callable[[PriceTick], None]
NoticeHandler = Callable[[FillNotice], None]


@runtime_checkable
class TickFeed(Protocol):
    async def watch(self, symbol: str, on_tick: TickHandler) -> None:
        """Deliver every tick of ``symbol`` to ``on_tick`` (called on the event loop; it must
        not block) until ``unwatch``."""
        ...

    async def unwatch(self, symbol: str) -> None:
        ...

    def state(self) -> tuple[FeedState, str]:
        """Whether ticks can be trusted right now, and why (for the log line and status)."""
        ...
