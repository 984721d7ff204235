"""A request-budget limiter (``RateLimiter`` / ``AnsweredSlots`` of adapters/kis) that
reports how long each request waited for its place: the KIS client's rate-budget waits,
whichever limiter the process uses (in-process sliding window or the fleet's Postgres
budget). A wait given up (the client's deadline, a cancelled call) is a refusal: that
request was never sent."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

Observe = Callable[[float, bool], None]    # (seconds waited, granted)


class MeteredRateLimiter:
    def __init__(self, inner: Any, observe: Observe) -> None:
        self._inner = inner
        self._observe = observe

    def __getattr__(self, name: str) -> Any:          # close(), share, waited_seconds ...
        return getattr(self._inner, name)

    async def acquire(self, *, order: bool = False) -> None:
        started = time.perf_counter()
        try:
            await self._inner.acquire(order=order)
        except BaseException:
            self._observe(time.perf_counter() - started, False)
            raise
        self._observe(time.perf_counter() - started, True)

    @contextlib.asynccontextmanager
    async def slot(self, *, order: bool = False) -> AsyncIterator[None]:
        """The inner limiter's slot (held until the answer), or its plain grant if it has
        none (the KIS client's fallback for such a limiter does the same)."""
        if not hasattr(self._inner, "slot"):
            await self.acquire(order=order)
            yield
            return
        started = time.perf_counter()
        entered = False
        try:
            async with self._inner.slot(order=order):
                entered = True
                self._observe(time.perf_counter() - started, True)
                yield
        except BaseException:
            if not entered:
                self._observe(time.perf_counter() - started, False)
            raise
