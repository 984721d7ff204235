"""One request budget per broker appkey for the whole fleet, kept in Postgres.

KIS counts requests per appkey (20/s real, 2/s paper) however many processes send them, so
a per-process limiter lets N workers send N times the limit. A process either spends its
leased share (``rate_share.py``, no round trip: the steady case) or asks the database for a
grant; both are judged by the database clock under one advisory lock per key.

The window is a little longer than the broker's second (``margin``) so that jitter between
the grant and the request's arrival at the broker cannot put more than ``limit`` requests in
any one-second window the broker measures.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_share import LeasedShare


def budget_key(appkey: str, mode: str) -> str:
    """Stable, non-secret key for an appkey (its SHA-256 prefix)."""
    return f"{mode}:{hashlib.sha256(appkey.encode()).hexdigest()[:32]}"


class PostgresRateBudget:
    """``await acquire()`` returns when one request may be sent now under the shared budget.

    A steady caller spends its leased share first, with no round trip. Past its share, a
    process calling in a burst takes a small batch of grants in one round trip and spends
    them locally within ``lease_seconds``; the batch grows while leases are used up and
    shrinks when grants go unused, so a sparse caller never holds budget it does not use.
    The lease is part of the window's margin: a grant spent late still arrives inside it."""

    def __init__(
        self, db: Database, key: str, *, limit_per_second: int, margin: float = 0.1,
        max_wait: float = 30.0, lease_seconds: float = 0.03, max_batch: int = 4,
        share_pool: int | None = None, max_share: int | None = None,
    ) -> None:
        """``share_pool``: how much of the limit leased shares may take together (default
        half, the rest stays for bursts through per-call grants; 0 turns shares off);
        ``max_share``: the most one process may lease (default half the pool)."""
        if limit_per_second < 1:
            raise ValueError("limit_per_second must be >= 1")
        if not 0 <= lease_seconds < margin:
            raise ValueError("lease_seconds must be >= 0 and below margin")
        self._db = db
        self._key = key
        self._limit = limit_per_second
        self._window = 1.0 + margin
        self._max_wait = max_wait
        self._lease = lease_seconds
        self._max_batch = max(1, min(max_batch, limit_per_second // 4 or 1))
        self._batch = 1
        self._left = 0
        self._lease_until = 0.0
        self.waited_seconds = 0.0
        self.grants = 0
        self.round_trips = 0
        pool = max(1, limit_per_second // 2) if share_pool is None else share_pool
        if not 0 <= pool <= limit_per_second:
            raise ValueError("share_pool must be between 0 and limit_per_second")
        self.share: LeasedShare | None = None
        if pool > 0:
            self.share = LeasedShare(db, key, limit=limit_per_second, window=self._window,
                                     pool=pool, max_share=max_share or max(1, pool // 2))

    async def acquire(self) -> None:
        if self.share is not None and self.share.try_spend():
            self.grants += 1
            return
        now = time.monotonic()
        if self._left > 0 and now < self._lease_until:
            self._left -= 1
            self.grants += 1
            return
        if self._left > 0:                       # grants expired unused: ask for fewer
            self._batch = max(1, self._batch // 2)
        elif now < self._lease_until:            # lease used up while still fresh: a burst
            self._batch = min(self._max_batch, self._batch * 2)
        self._left = 0
        waited = 0.0
        while True:
            self.round_trips += 1
            got = await self._db.pool.fetchval(
                "SELECT tf_rate_acquire_batch($1, $2, $3, $4)", self._key, self._limit,
                self._window, self._batch)
            if got >= 1:
                self._left = int(got) - 1
                self._lease_until = time.monotonic() + self._lease
                self.grants += 1
                self.waited_seconds += waited
                return
            wait = -got
            if waited + wait > self._max_wait:
                raise TimeoutError(f"rate budget {self._key}: no grant within {self._max_wait}s")
            free_in = self.share.free_in() if self.share is not None else None
            if free_in is not None and free_in < wait:      # the share frees up first
                await asyncio.sleep(free_in)
                waited += free_in
                if self.share.try_spend(new_call=False):
                    self.grants += 1
                    self.waited_seconds += waited
                    return
                continue
            await asyncio.sleep(wait)
            waited += wait

    async def close(self) -> None:
        """Give back the leased share, so that it stops counting one lease earlier."""
        if self.share is not None:
            await self.share.release()
