"""One request budget per broker appkey for the whole fleet, kept in Postgres.

KIS counts requests per appkey (20/s real, 2/s paper) however many processes send them, so
a per-process limiter lets N workers send N times the limit. A process either spends its
leased share (``rate_share.py``, no round trip: the steady case) or asks the database for a
grant; both are judged by the database clock under one advisory lock per key.

Orders go first: reads (and the leased shares, which any request may spend) are granted
only while the window holds fewer than ``limit`` minus the order reserve
(``domain/request_budget.py``). An order past its share has places of its own: it is granted
while fewer than ``reserve`` order rows are in the window, whatever else is counted (shares
waiting to start, late rows: places nobody uses on paper), and past those while the whole
count is below ``limit`` (migration 0019, which says why the broker still never sees more
than ``limit``). So a sell waits neither behind the fleet's reads nor behind paper.

The window is a little longer than the broker's second (``margin``). The broker counts a
request when it arrives, which is after its grant and before its answer. A request sent
through ``slot()`` that is answered within ``margin`` of its grant therefore arrived within
the margin, and its grant's window covers the broker's second after the arrival; one
answered later (a stalled process, a slow broker) leaves a grant row dated so that it counts
until one second after its answer. A leased share is counted locally the same way (until
the answer plus a window, ``rate_share.py``). So the broker's count stays within ``limit``
however late a request is written, as long as its answer comes within about a window.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_share import LeasedShare
from tradefleet.domain.request_budget import order_reserve

log = logging.getLogger(__name__)


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
        reserve: int | None = None,
    ) -> None:
        """``share_pool``: how much of the limit leased shares may take together (default
        half, the rest stays for bursts through per-call grants; 0 turns shares off);
        ``max_share``: the most one process may lease (default half the pool);
        ``reserve``: places only orders may take (default ``order_reserve(limit)``)."""
        if limit_per_second < 1:
            raise ValueError("limit_per_second must be >= 1")
        reserve = order_reserve(limit_per_second) if reserve is None else reserve
        if not 0 <= reserve < limit_per_second:
            raise ValueError("reserve must be >= 0 and below limit_per_second")
        if not 0 <= lease_seconds < margin:
            raise ValueError("lease_seconds must be >= 0 and below margin")
        self._db = db
        self._key = key
        self._limit = limit_per_second
        self._reserve = reserve
        self._read_limit = limit_per_second - reserve
        self._margin = margin
        self._window = 1.0 + margin
        self._max_wait = max_wait
        self._lease = lease_seconds
        self._max_batch = max(1, min(max_batch, limit_per_second // 4 or 1))
        self._batch = 1
        self._left = 0
        self._lease_until = 0.0
        self._lease_asked = 0.0     # monotonic, before the call that granted the lease
        self._holding: set[asyncio.Task[None]] = set()
        self.waited_seconds = 0.0
        self.grants = 0
        self.round_trips = 0
        self.late_answers = 0       # sends answered past the margin: a grant row recorded
        pool = min(max(1, limit_per_second // 2), self._read_limit) if share_pool is None \
            else share_pool
        if not 0 <= pool <= self._read_limit:
            raise ValueError("share_pool must be between 0 and limit_per_second - reserve")
        self.share: LeasedShare | None = None
        if pool > 0:       # shares are spent by reads too: they stay out of the reserve
            self.share = LeasedShare(db, key, limit=self._read_limit, window=self._window,
                                     pool=pool, max_share=max_share or max(1, pool // 2))

    async def acquire(self, *, order: bool = False) -> None:
        """One request may be sent now; it is counted from its grant (see ``slot``)."""
        await self._take(hold=False, order=order)

    @contextlib.asynccontextmanager
    async def slot(self, *, order: bool = False) -> AsyncIterator[None]:
        """One request may be sent inside the block; it keeps its place until the block
        ends (its answer) plus the broker's window (module docstring)."""
        asked = await self._take(hold=True, order=order)
        try:
            yield
        finally:
            if asked is None:
                late = self.share is not None and self.share.answered()
            else:
                late = time.monotonic() - asked > self._margin
            if late:
                self._record_late_answer(order=order)

    async def _take(self, *, hold: bool, order: bool) -> float | None:
        """Take a place: None when from the leased share, else when the granting call was
        made (local monotonic clock, at or before the database's grant). An order asks the
        database for one order place (no batch: a batch's leftovers would be spent by reads
        inside the reserve)."""
        if self.share is not None and self.share.try_spend(hold=hold):
            self.grants += 1
            return None
        now = time.monotonic()
        if self._left > 0 and now < self._lease_until:
            self._left -= 1
            self.grants += 1
            return self._lease_asked
        if order:
            return await self._granted(hold=hold, limit=self._limit, want=1, order=True)
        if self._left > 0:                       # grants expired unused: ask for fewer
            self._batch = max(1, self._batch // 2)
        elif now < self._lease_until:            # lease used up while still fresh: a burst
            self._batch = min(self._max_batch, self._batch * 2)
        self._left = 0
        return await self._granted(hold=hold, limit=self._read_limit, want=self._batch)

    async def _granted(self, *, hold: bool, limit: int, want: int,
                       order: bool = False) -> float | None:
        """Ask the database until it grants (``want`` places at most, under ``limit``; an
        order one place, in the reserve's order places or else under ``limit``)."""
        waited = 0.0
        sql, last = "SELECT tf_rate_acquire_batch($1, $2, $3, $4)", want
        if order:
            sql, last = "SELECT tf_rate_acquire_order($1, $2, $3, $4)", self._reserve
        while True:
            self.round_trips += 1
            asked = time.monotonic()
            got = await self._db.pool.fetchval(sql, self._key, limit, self._window, last)
            if got >= 1:
                self._left = int(got) - 1
                self._lease_until = time.monotonic() + self._lease
                self._lease_asked = asked
                self.grants += 1
                self.waited_seconds += waited
                return asked
            wait = -got
            if waited + wait > self._max_wait:
                raise TimeoutError(f"rate budget {self._key}: no grant within {self._max_wait}s")
            # a share leased (or renewed) while this call waits may have started: spend it,
            # and keep the lease asking while the demand lasts
            if self.share is not None and self.share.try_spend(new_call=False, hold=hold):
                self.grants += 1
                self.waited_seconds += waited
                return None
            free_in = self.share.free_in() if self.share is not None else None
            if free_in is not None and free_in < wait:      # the share frees up first
                await asyncio.sleep(free_in)
                waited += free_in
                if self.share.try_spend(new_call=False, hold=hold):
                    self.grants += 1
                    self.waited_seconds += waited
                    return None
                continue
            await asyncio.sleep(wait)
            waited += wait

    def _record_late_answer(self, *, order: bool) -> None:
        """A grant row counted until one second after now (by the database clock, which
        reads the time after this answer): the request arrived at the broker before now.
        An order's row is an order row: it keeps its order place (migration 0019)."""
        self.late_answers += 1
        task = asyncio.get_running_loop().create_task(self._insert_late_grant(order))
        self._holding.add(task)
        task.add_done_callback(self._holding.discard)

    async def _insert_late_grant(self, order: bool) -> None:
        try:
            await self._db.pool.execute(
                "INSERT INTO rate_grants (budget_key, granted_at, for_order) "
                "VALUES ($1, clock_timestamp() - make_interval(secs => $2), $3)",
                self._key, self._margin, order)
        except Exception as exc:  # noqa: BLE001 - the budget keeps working; logged
            if not self._db.pool.is_closing():
                log.warning("rate budget: late answer not recorded: %s: %s",
                            type(exc).__name__, exc)

    async def close(self) -> None:
        """Give back the leased share, so that it stops counting one lease earlier."""
        if self._holding:
            await asyncio.gather(*self._holding, return_exceptions=True)
        if self.share is not None:
            await self.share.release()
