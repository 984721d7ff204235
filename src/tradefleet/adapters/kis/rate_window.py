"""The per-appkey request budget of one process, counted so that the broker never sees more.

KIS counts a request when it ARRIVES, in a sliding second. A limiter that stamps a request
when it grants it is only right if every request arrives within its margin of the grant; on a
busy machine a burst of granted requests is written and read one after another, so the first
of a burst can arrive well after its grant while the next burst (granted one window later)
arrives at once: the broker then counts more than the limit in one second (EGW00201).

So a request sent through ``slot()`` counts from its grant until its ANSWER, and for one
window after that. Its arrival lies between the two, so whatever the scheduling delay, any
set of requests the broker sees inside one second were all counted by us at one instant
(the latest grant among them), and we never let more than ``per_second`` be counted at once.
A request whose answer never comes (timeout, broken connection) ends when the client gives up.
``acquire()`` alone (no answer reported) is counted from the grant, as before.

Orders go first. The limit is the account's for every request, so a fleet busy reading
(scans, polls, followers) fills it, and a sell on a stop would queue behind reads for the
next free place. Reads are therefore granted only while fewer than ``per_second`` minus the
order reserve (domain/request_budget.py) are counted; an order may take any place up to
``per_second``, and does not queue behind waiting reads. The total never exceeds
``per_second``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tradefleet.domain.request_budget import order_reserve


@runtime_checkable
class AnsweredSlots(Protocol):
    """A limiter that can hold a request's place until its answer (see module docstring)."""

    def slot(self, *, order: bool = False) -> contextlib.AbstractAsyncContextManager[None]: ...


class SlidingWindowRateLimiter:
    """At most ``per_second`` requests counted in any window of 1 s + ``margin``; a request
    sent through ``slot()`` is counted until its answer plus that window. Reads leave
    ``order_reserve`` places to orders (module docstring)."""

    def __init__(self, per_second: int, *, margin: float = 0.1,
                 reserve: int | None = None) -> None:
        if per_second < 1:
            raise ValueError(f"per_second: must be >= 1, got {per_second}")
        if margin < 0:
            raise ValueError(f"margin: must be >= 0, got {margin}")
        reserve = order_reserve(per_second) if reserve is None else reserve
        if not 0 <= reserve < per_second:
            raise ValueError(f"reserve: must be >= 0 and below per_second ({per_second}), "
                             f"got {reserve}")
        self.per_second = per_second
        self.reserve = reserve
        self._window = 1.0 + margin
        self._stamps: deque[float] = deque()    # grant (acquire) or answer (slot) times
        self._in_flight = 0                     # slots granted, not yet answered
        self._answered = asyncio.Event()
        self._mutex = asyncio.Lock()

    async def acquire(self, *, order: bool = False) -> None:
        await self._take(order)
        self._stamps.append(time.monotonic())

    @contextlib.asynccontextmanager
    async def slot(self, *, order: bool = False) -> AsyncIterator[None]:
        await self._take(order)
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._stamps.append(time.monotonic())
            self._answered.set()

    async def _take(self, order: bool) -> None:
        """Wait until the request fits (reads: below ``per_second - reserve``; orders: below
        ``per_second``, not queued behind reads); the caller then counts its own request
        before yielding to the event loop."""
        if order:
            while not self._fits(self.per_second):
                await self._one_freed()
            return
        async with self._mutex:
            while not self._fits(self.per_second - self.reserve):
                await self._one_freed()

    def _fits(self, cap: int) -> bool:
        now = time.monotonic()
        while self._stamps and now - self._stamps[0] >= self._window:
            self._stamps.popleft()
        return len(self._stamps) + self._in_flight < cap

    async def _one_freed(self) -> None:
        if self._stamps:      # answers only add later stamps: the oldest frees first
            await asyncio.sleep(self._window - (time.monotonic() - self._stamps[0]) + 0.001)
        else:                 # every place is in flight: wait for an answer
            self._answered.clear()
            await self._answered.wait()
