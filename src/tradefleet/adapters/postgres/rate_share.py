"""A leased share of the fleet's per-appkey budget, spent locally with no round trip.

A steady caller (a worker polling its position every second and sending an order now and
then) would otherwise pay a Postgres grant before every broker call, an order included. With
a share of ``s`` it may send ``s`` requests in any window on its own; the database counts the
share against the limit for as long as it can be in use (``0006_rate_shares.sql``), so grants
and shares together never exceed the limit.

The lease is renewed in the background while the process keeps calling, sized to what it
used in the last window plus one, and simply lapses when it stops (or exits), so an idle
process holds nothing for longer than one lease plus one window.

A call spent with ``hold=True`` keeps its place until ``answered()`` and one window after
(see adapters/kis/rate_window.py: the broker counts arrivals, which lie between the two).

A holder that shrinks its share (or gives it back) stops spending beyond the new ask from the
moment it asks, until the database's answer: ``cap``. It tells the database how many places
it may still occupy (those in its window, or the ask if more), and only that much of the old
size stays counted (migration 0018). Without it, every shrunk share stayed counted at its old
size for a ttl and a window, and a fleet's orders found the limit full of places nobody was
spending. The cap is lifted only by an answer: after a lost one the database may hold the
smaller count, so the holder keeps to it until its lease ends."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque

from tradefleet.adapters.postgres.database import Database

log = logging.getLogger(__name__)


class LeasedShare:
    def __init__(
        self, db: Database, key: str, *, limit: int, window: float, pool: int,
        max_share: int, ttl: float = 3.0, min_renew_interval: float = 0.5,
        renew_delay: float = 0.02,
    ) -> None:
        if not 0 < min_renew_interval < ttl:
            raise ValueError("min_renew_interval must be > 0 and below ttl")
        self._db = db
        self._key = key
        self._holder = uuid.uuid4().hex
        self._limit = limit
        self._window = window
        self._pool = pool
        self._max_share = max_share
        self._ttl = ttl
        self._min_renew_interval = min_renew_interval
        self._renew_delay = renew_delay
        self._share = 0
        self._valid_until = 0.0             # local monotonic; never later than the DB's expiry
        self._next: tuple[int, float, float] | None = None   # (share, from, until) once due
        self._spent: deque[float] = deque()   # sends made under the share, last window
        self._cap: int | None = None          # places at most while a shrink is unanswered
        self._in_flight = 0                   # held sends not answered yet
        self._calls: deque[float] = deque()   # every call, last window: the demand
        self._renewal: asyncio.Task[None] | None = None
        self._last_renewal = -1e9
        self.sends = 0
        self.renewals = 0

    @property
    def share(self) -> int:
        """The share that may be spent now."""
        return self._share if time.monotonic() < self._valid_until else 0

    def try_spend(self, *, new_call: bool = True, hold: bool = False) -> bool:
        """True when one call may be sent now under the share. ``new_call`` counts it as
        demand (False when a call already counted tries again after waiting); ``hold``
        keeps its place until ``answered()``."""
        now = time.monotonic()
        if new_call:
            _trim(self._calls, now - self._window)
            self._calls.append(now)
        if self._next is not None and now >= self._next[1]:
            self._share, _, self._valid_until = self._next
            self._next = None
            self._cap = None                  # the answered share, now in force
        spent = False
        if now < self._valid_until and self._share > 0:
            _trim(self._spent, now - self._window)
            if len(self._spent) + self._in_flight < self._spendable():
                if hold:
                    self._in_flight += 1
                else:
                    self._spent.append(now)
                self.sends += 1
                spent = True
        self._maybe_renew(now)
        return spent

    def answered(self) -> bool:
        """A held send got its answer (or gave up): it counts for one window from now. True
        when the lease may stop being counted by the database before that window is out
        (the answer came later than the lease plus the margin): the caller must then record
        the send as a grant of its own."""
        now = time.monotonic()
        self._in_flight -= 1
        self._spent.append(now)
        return now > self._valid_until + (self._window - 1.0)

    def free_in(self) -> float | None:
        """Seconds until the share has room again, or None if it lapses before then."""
        now = time.monotonic()
        if self._next is not None and now < self._next[1]:
            return self._next[1] - now if self._next[0] > 0 else None
        if self._share <= 0 or now >= self._valid_until:
            return None
        _trim(self._spent, now - self._window)
        oldest_to_go = len(self._spent) + self._in_flight - self._spendable()
        if oldest_to_go < 0:
            return 0.0
        if oldest_to_go >= len(self._spent):      # the places are held by sends in flight
            return None
        at = self._spent[oldest_to_go] + self._window
        return at - now if at < self._valid_until else None

    def _spendable(self) -> int:
        return self._share if self._cap is None else min(self._share, self._cap)

    def _occupied(self, now: float) -> int:
        """Places this holder has in the window now (sent in it, or awaiting an answer)."""
        _trim(self._spent, now - self._window)
        return len(self._spent) + self._in_flight

    def _maybe_renew(self, now: float) -> None:
        if self._renewal is not None or now - self._last_renewal < self._min_renew_interval:
            return
        want = min(self._max_share, len(self._calls) + 1)
        have, until = self._share, self._valid_until
        if self._next is not None:
            have, until = self._next[0], self._next[2]
        if until - now < self._ttl / 2 or want > have:
            self._last_renewal = now
            keep = None
            if want < have and self._next is None:     # a shrink: spend no more than asked
                self._cap = want if self._cap is None else min(self._cap, want)
                keep = max(self._occupied(now), self._cap)
            self._renewal = asyncio.get_running_loop().create_task(self._renew(want, keep))

    async def _renew(self, want: int, keep: int | None = None) -> None:
        """Starts a moment after the call that asked for it, so that its round trip does not
        share the event loop with that call's own request."""
        try:
            await asyncio.sleep(self._renew_delay)
            sent = time.monotonic()         # before the DB's clock reading: a safe end
            row = await self._db.pool.fetchrow(
                "SELECT granted, starts_in, valid_for "
                "FROM tf_rate_share($1, $2, $3, $4, $5, $6, $7, $8)",
                self._key, self._holder, self._limit, self._window, want, self._ttl,
                self._pool, keep)
            heard = time.monotonic()        # after the DB's clock reading: a safe start
            share, until = int(row["granted"]), sent + float(row["valid_for"])
            starts_in = float(row["starts_in"])
            if starts_in <= 0:
                self._share, self._valid_until, self._next = share, until, None
                self._cap = None
            else:       # grants already in the window must age out first; keep the old one
                self._next = (share, heard + starts_in, until)
            self.renewals += 1
        except Exception as exc:  # noqa: BLE001 - the share lapses; per-call grants still work
            if not self._db.pool.is_closing():      # at shutdown the lease just lapses
                log.warning("rate share renewal failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._renewal = None

    async def release(self) -> None:
        """Give the share back (it stays counted until the old lease could be spent)."""
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None
        if self._last_renewal < 0 and self.renewals == 0:     # never asked for one
            return
        self._share, self._valid_until, self._next = 0, 0.0, None
        await self._db.pool.fetchrow(
            "SELECT granted FROM tf_rate_share($1, $2, $3, $4, 0, $5, $6, $7)",
            self._key, self._holder, self._limit, self._window, self._ttl, self._pool,
            self._occupied(time.monotonic()))


def _trim(stamps: deque[float], before: float) -> None:
    while stamps and stamps[0] <= before:
        stamps.popleft()
