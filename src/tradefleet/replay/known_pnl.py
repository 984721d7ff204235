"""Replay-only: the realised PnL an entry try reads, kept until a position of the worker
closes (issue 21, speed).

Before each candidate's order the entry step reads the worker's realised PnL of the day
(``wiring.pnl_today``: the sum of ``realized_pnl`` over its ``CLOSED`` positions of that
trading day) for the daily loss limit. A SCAN poll with candidates reads it again and
again while nothing of the worker has closed. Here the answer is kept per worker and
trading day, and given again without a round trip, until a position row of that worker
closes. Why no other change can move the sum:

1. a position row becomes ``CLOSED`` and gets its ``realized_pnl`` in one place only,
   ``position_store._close``, reached only from ``position_store.apply_fill``, reached
   only from ``order_reports.apply_report_locked``, reached only through a
   ``PostgresOrderStore``'s ``apply_report`` and ``record_fill_notice`` (the latter via
   ``fill_notice_store.apply_fill_notice``). Every close returns a
   ``PositionExitedEvent`` naming the row's worker (``pos["worker_id"]``, also when the
   row is an adopter's), and those calls return it to their caller;
2. no statement deletes a position, none changes a ``CLOSED`` row, and the only other
   writers of positions (an orphan's adoption, a stray's insert) touch or make ``OPEN``
   rows only; the schema has no trigger, rule or function that writes positions;
3. a replayed day runs on a database of its own with no operator or console: the only
   order stores writing it are the fleet's workers' own (one ``PostgresOrderStore`` each,
   built by ``build_worker``), and every one of them is watched here before any answer
   is kept (a fleet with a worker whose store cannot be watched keeps nothing);
4. the trading day in the key is the worker's clock's date, as the read computes it.

So a watched call that returns a ``PositionExitedEvent`` forgets that worker's answer, and
one that raises forgets every worker's (its transaction may or may not have committed).
A read under way when such a call ends is not kept. Trades are unchanged: the parity test
(``test_replay_runner``) replays with this against a simulated day read every time. Live
workers never use this: the runner wraps a started worker's entry step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from tradefleet.domain.events import PositionExitedEvent


class KnownPnl:
    """The fleet's kept realised-PnL answers (worker id -> (trading day, won))."""

    def __init__(self, today: Callable[[], date]) -> None:
        self._today = today
        self._known: dict[str, tuple[date, int]] = {}
        self._changes: dict[str, int] = {}     # worker id -> closes seen (a read's stamp)
        self._everything = 0                   # calls that raised: every answer forgotten
        self._watched_stores: set[int] = set()
        self._unwatched = False                # a worker whose store could not be watched
        self.served = 0                        # reads answered without a round trip

    def watch(self, cycle: Any) -> None:
        """Wrap ``cycle``'s order store (its closes) and its entry's PnL read."""
        orders = cycle.paths.orders
        store = getattr(orders, "_store", None) if orders is not None else None
        entry = cycle.paths.entry
        if store is None or not hasattr(entry, "_pnl_today"):
            self._unwatched = True
            return
        if id(store) not in self._watched_stores:
            store.apply_report = _Closing(store.apply_report, self)
            store.record_fill_notice = _Closing(store.record_fill_notice, self)
            self._watched_stores.add(id(store))
        entry._pnl_today = _KeptRead(entry._pnl_today, self, cycle.worker_id)

    def closed(self, events: Any) -> None:
        """A watched call returned: forget the answer of every worker a position closed of."""
        for event in events or ():
            if isinstance(event, PositionExitedEvent):
                self._changes[event.worker_id] = self._changes.get(event.worker_id, 0) + 1
                self._known.pop(event.worker_id, None)

    def unsure(self) -> None:
        """A watched call raised: forget every answer."""
        self._everything += 1
        self._known.clear()

    def stamp(self, worker_id: str) -> tuple[int, int]:
        return self._everything, self._changes.get(worker_id, 0)

    async def read(self, worker_id: str, read: Callable[[], Awaitable[int]]) -> int:
        day = self._today()
        known = self._known.get(worker_id)
        if known is not None and known[0] == day and not self._unwatched:
            self.served += 1
            return known[1]
        stamp = self.stamp(worker_id)
        value = await read()
        if self.stamp(worker_id) == stamp:      # nothing closed while it was read
            self._known[worker_id] = (day, value)
        return value


class _Closing:
    """An order store's report call as it is, telling ``owner`` what it closed."""

    def __init__(self, call: Callable[..., Awaitable[Any]], owner: KnownPnl) -> None:
        self._call = call
        self._owner = owner

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await self._call(*args, **kwargs)
        except BaseException:
            self._owner.unsure()
            raise
        self._owner.closed(result[-1])           # (..., events) for both calls
        return result


class _KeptRead:
    """The entry step's realised-PnL read, answered from ``owner`` while it knows it."""

    def __init__(self, read: Callable[[], Awaitable[int]], owner: KnownPnl,
                 worker_id: str) -> None:
        self._read = read
        self._owner = owner
        self._worker_id = worker_id

    async def __call__(self) -> int:
        return await self._owner.read(self._worker_id, self._read)
