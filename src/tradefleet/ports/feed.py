"""Ticks as a port: the worker asks for a held symbol's trades and is told whether the feed
is live. Whether they came by the account's WebSocket (through the fleet's feed holder) or
not at all, the worker's rules are the same; when the feed is not live the worker decides
on its poll only (the REST quote), and says so. Fill notices join this port later: until
then the order follower (REST) stays the only writer of fills."""

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


class FeedState(StrEnum):
    LIVE = "live"        # the holder's session is up and its heartbeat is fresh
    STALE = "stale"      # no word from any holder for longer than the stale limit
    DOWN = "down"        # the holder says its WebSocket is down, or we cannot listen


TickHandler = Callable[[PriceTick], None]


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
