"""One request budget per broker appkey for the whole fleet, kept in Postgres.

KIS counts requests per appkey (20/s real, 2/s paper) however many processes send them, so
a per-process limiter lets N workers send N times the limit. Every process asks the database
for a grant before each call; grants are judged by the database clock under an advisory lock.

The window is a little longer than the broker's second (``margin``) so that jitter between
the grant and the request's arrival at the broker cannot put more than ``limit`` requests in
any one-second window the broker measures.
"""

from __future__ import annotations

import asyncio
import hashlib

from tradefleet.adapters.postgres.database import Database


def budget_key(appkey: str, mode: str) -> str:
    """Stable, non-secret key for an appkey (its SHA-256 prefix)."""
    return f"{mode}:{hashlib.sha256(appkey.encode()).hexdigest()[:32]}"


class PostgresRateBudget:
    """``await acquire()`` returns when one request may be sent now under the shared budget."""

    def __init__(
        self, db: Database, key: str, *, limit_per_second: int, margin: float = 0.1,
        max_wait: float = 30.0,
    ) -> None:
        if limit_per_second < 1:
            raise ValueError("limit_per_second must be >= 1")
        self._db = db
        self._key = key
        self._limit = limit_per_second
        self._window = 1.0 + margin
        self._max_wait = max_wait
        self.waited_seconds = 0.0
        self.grants = 0

    async def acquire(self) -> None:
        waited = 0.0
        while True:
            wait = await self._db.pool.fetchval(
                "SELECT tf_rate_acquire($1, $2, $3)", self._key, self._limit, self._window)
            if wait == 0:
                self.grants += 1
                self.waited_seconds += waited
                return
            if waited + wait > self._max_wait:
                raise TimeoutError(f"rate budget {self._key}: no grant within {self._max_wait}s")
            await asyncio.sleep(wait)
            waited += wait
