"""One scan per account and quote snapshot: the first worker of a window claims the
computation, the others wait for its result and read it (spec SC-002 done once, not N times).

A result is taken when it is at most ``max_age_windows`` poll windows older than the window
the reader started in; a claim still alive (by the database clock) is waited for whatever its
window, since whoever computes next would finish later still. A claimer that dies holds the
others up until its claim expires; a claimer whose computation raises gives its claim back."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tradefleet.ports.clock import Clock
from tradefleet.ports.shared_scan_store import SharedScanStore

WAIT_POLL_SECONDS = 0.02       # the first look again; then 1.5x longer each time...
WAIT_POLL_MAX_SECONDS = 0.25   # ...up to this: 49 waiting workers must not flood the database


class SharedScans:
    def __init__(self, store: SharedScanStore, clock: Clock, *, window_seconds: float,
                 claim_ttl_s: float = 3.0, max_age_windows: int = 1,
                 claimer: str | None = None) -> None:
        if not window_seconds > 0:
            raise ValueError(f"window_seconds: must be > 0, got {window_seconds!r}")
        if not claim_ttl_s > 0:
            raise ValueError(f"claim_ttl_s: must be > 0, got {claim_ttl_s!r}")
        self._store = store
        self._clock = clock
        self._window = window_seconds
        self._ttl = claim_ttl_s
        self._max_age = max_age_windows
        self.claimer = claimer or f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.computed_here = 0
        self.served_shared = 0
        self.waited_s = 0.0           # real seconds spent waiting for other claimers
        self.release_errors: list[str] = []

    def window(self) -> int:
        return int(self._clock.now().timestamp() // self._window)

    async def get_or_compute(
        self, key: str, compute: Callable[[], Awaitable[dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        """The shared result for ``key`` and whether this call computed it."""
        oldest_taken = self.window() - self._max_age
        began = time.monotonic()
        pause = WAIT_POLL_SECONDS
        while True:
            latest = await self._store.latest(key)
            if latest is not None:
                if latest.result is not None and latest.window >= oldest_taken:
                    self.served_shared += 1
                    self.waited_s += time.monotonic() - began
                    return latest.result, False
                if latest.result is None and latest.claim_live:
                    # someone computes it now: its result is taken, however old its window
                    oldest_taken = min(oldest_taken, latest.window)
                    await asyncio.sleep(pause)
                    pause = min(WAIT_POLL_MAX_SECONDS, pause * 1.5)
                    continue
            window = max(self.window(), latest.window if latest is not None else 0)
            if await self._store.claim(key, window, self.claimer, self._ttl):
                break
            await asyncio.sleep(0)                           # lost the race: read theirs
        self.waited_s += time.monotonic() - began
        try:
            result = await compute()
        except BaseException:
            try:      # let another worker take this window at once rather than at expiry
                await asyncio.shield(self._store.release(key, window, self.claimer))
            except Exception as exc:  # noqa: BLE001 - it then expires by the database clock
                self.release_errors.append(type(exc).__name__)
            raise
        await self._store.publish(key, window, self.claimer, result)
        self.computed_here += 1
        return result, True
