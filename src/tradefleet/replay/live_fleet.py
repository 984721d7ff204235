"""Replay-only: the orphan look answered "none" without a round trip while every worker of
the day's database is provably live (issue 21, speed).

Each SCAN poll first looks for orphans (``AccountReconciler.adopt_one`` ->
``PostgresOrphanStore.orphan_positions``): open positions whose worker is *not live*, its
row ``EXIT`` or its heartbeat older than its lock TTL by the database clock
(``orphan_store.NOT_LIVE``). While every row of ``workers`` is live that query returns no
row, whatever the positions and orders are. Here it is answered "none" without the
database when all of these hold at the moment of the look:

1. every row of ``workers`` is a worker of this fleet: checked by one read when the day's
   loop starts (a row not of the fleet, or one already ``EXIT``, turns this off for the
   day). A row is inserted only by a worker's registration, and in a replay only the
   fleet's workers run, all registered before that read;
2. every worker of the fleet holds a valid lease (``Lease.valid``: granted and renewed
   less than ``ttl - margin`` seconds ago, on the monotonic clock; its ``ttl`` is the
   ``lock_ttl_seconds`` the worker registered its row with). A lease is granted or
   renewed only after a statement that set that worker's ``heartbeat_at = now()`` (its
   registration, ``LeaseKeeper``'s beat) returned; that statement refuses a row already
   ``EXIT`` (the keeper then stops the day). So the row's heartbeat is younger than the
   lease's age, and the database clock would judge it live: the margin is the same one a
   live worker trusts before it sends an order (``GuardedBroker``), against the wall clock
   running ahead of the monotonic one;
3. a row becomes ``EXIT`` only by its worker's stop (not during the day's loop) or by a
   peer's reclaim of a worker whose heartbeat had already lapsed, after which its next
   beat is refused (2.): so a lease still valid means the row was not reclaimed.

A worker whose lease is not valid (a machine stalled longer than the margin) makes every
look read the database again, as before. Trades are unchanged (the parity test
``test_replay_runner`` replays with this against a simulated day that looks every time).
The stray check after the look (the broker's holdings) runs as before. Live workers never
use this: the runner wraps the orphan store of a started worker's cycle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


class LiveFleet:
    """Knows whether every worker row of the day is one of ``workers`` with a valid lease."""

    def __init__(self) -> None:
        self._workers: list[Any] = []
        self._checked = False                 # the day's rows were read: all the fleet's
        self._stores: set[int] = set()
        self.served = 0                       # orphan looks answered without a round trip

    def watch(self, worker: Any, cycle: Any) -> None:
        """Wrap ``cycle``'s orphan store's look (and count ``worker``'s lease)."""
        self._workers.append(worker)
        orphans = getattr(cycle.hooks, "orphans", None)
        store = getattr(orphans, "_store", None) if orphans is not None else None
        if store is None or id(store) in self._stores:
            return
        store.orphan_positions = _Look(store.orphan_positions, self)
        self._stores.add(id(store))

    async def check_rows(self, pool: Any) -> None:
        """One read of ``workers`` before the loop: only this fleet's rows, none ``EXIT``."""
        ids = {w.config.worker_id for w in self._workers}
        rows = await pool.fetch("SELECT worker_id, status FROM workers")
        self._checked = all(r["worker_id"] in ids and r["status"] != "EXIT" for r in rows)

    def all_live(self) -> bool:
        return self._checked and all(w.lease.valid() for w in self._workers)


class _Look:
    """The orphan store's look, answered "none" while ``owner`` knows every row is live."""

    def __init__(self, look: Callable[[], Awaitable[list[Any]]], owner: LiveFleet) -> None:
        self._look = look
        self._owner = owner

    async def __call__(self) -> list[Any]:
        if self._owner.all_live():
            self._owner.served += 1
            return []
        return await self._look()
