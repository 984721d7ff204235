"""Replay-only: a HOLD poll skipped when its outcome is already known (issue 21, speed).

A worker holding a position spends most of a replayed day in HOLD polls that read the held
symbol's quote and minute bars, find no exit, and publish a monitoring event. The replay's
market takes a step every 10 s (``STEP_SECONDS``) and the default poll is 5 s, so every
other such poll sees the market of the poll before it. That poll, and the follower pass
before it, are skipped (the lease beat still runs) only when all of these hold:

1. the worker's previous poll was a *quiet hold*: it reached the exit check and the check
   returned no exit. Reaching it proves a real (not orphaned) position and the liquidation
   not due; returning None proves it sent nothing and moved nowhere
   (``TradingCycle.hold_poll`` returns right after);
2. that poll's read of the worker's open orders was empty, and it created none after. So
   the follower has nothing of the worker's to follow: no one else writes a live worker's
   orders, and a replay's workers all stay live (their leases kept by ``LeaseKeeper``), so
   no dead peer's orders fall to it either. (A follower pass also re-looks at EXPIRED rows
   sent with no answer, on the wall clock every few real seconds; a replay sends no such
   order, and skipping a pass only moves that wall-clock look to the next one.)
3. the market has not stepped since that poll: the quote and the bars the exit check
   reads are the same numbers (the tape is indexed by step; a replay's book does not move
   between steps);
4. every time the exit rules compare the clock with (the liquidation, the time exit, and
   the bar boundaries ``closed_bars`` uses) lies on a market step: a poll in the same step
   as the one before cannot be on the other side of any of them. Checked per worker; a
   worker whose deadlines are off the step grid is never skipped.

So the skipped poll's inputs are the quiet poll's, and it would decide the same: no exit.

The follower pass alone (``idle_follower``, any state, the market stepped or not) is left
out on condition 2 by itself: the worker's last poll read its open orders and found none,
and no order of the worker has been created since (every order a worker writes, entry,
exit or liquidation, is created through its one ``OrderService``, whose ``create_order``
is watched). Then the pass would find nothing of the worker's to follow and no dead
peer's; it would only have read that, and the wall-clock look at EXPIRED rows noted above
moves to a later pass.
The read of the worker's open orders (each HOLD and SCAN poll, and ``take_up``) is answered
"none" without a round trip while that is known: the last read found none, the worker has
made no order since (the watched ``create_order``, called before its row is written) and
no follower pass has run since (``following``, called by the runner before each pass: a
pass is the one place a row of the worker's changes status outside its own orders' paths,
and a re-looked-at EXPIRED row could come back open). An order row of a live worker is
written by nobody else (see 2.), and a row that is not open becomes open only by being
made, so the database would have answered none too.
In the same way the worker's open positions and its locks (each SCAN poll reads both, and
finds none on most of a replayed day's SCAN polls) are answered "none" while that is known:
a lock row of the worker is written only by its own ``LockService.acquire_lock`` (entry,
take-up, re-take, orphan and stray adoption, all through the one service, which is then
watched; a peer's reclaim only deletes); a position row becomes the worker's only by a
fill of its order or by its adoption under a lock it takes. So positions read none while
no order of its was open stay none until it makes an order, takes a lock or runs a
follower pass (which records fills); locks read none stay none until it takes one.
What a skipped poll would have done besides is one more monitoring event (a row of ``events``), a
read of the operator's controls (no one writes them during a backtest: its database is its
own) and an empty follower pass. Trades, fills and summaries are unchanged (the parity
test compares a day polled every time with a replay that skips; the determinism test runs
it twice). Live workers never use this: it wraps a cycle inside ``replay.runner`` only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tradefleet.adapters.sim.universe import STEP_SECONDS
from tradefleet.domain.states import WorkerStatus


class _RecordingWatch:
    """The cycle's ``ExitWatch`` as it is, noting the market step of a no-exit check."""

    def __init__(self, watch: Any, owner: QuietHolds, key: int) -> None:
        self._watch = watch
        self._owner = owner
        self._key = key

    async def exit_reason(self, held: Any, *, liquidation_at: datetime) -> Any:
        reason = await self._watch.exit_reason(held, liquidation_at=liquidation_at)
        if reason is None:
            self._owner.quiet[self._key] = self._owner.step
        return reason


class _RecordingCreates:
    """The cycle's ``OrderService.create_order`` as it is, noting that an order was made
    (before the call: a create that raises may still have written its row)."""

    def __init__(self, create: Any, owner: QuietHolds, key: int) -> None:
        self._create = create
        self._owner = owner
        self._key = key

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._owner.none_open.pop(self._key, None)
        self._owner.none_positions.pop(self._key, None)
        self._owner.no_orders[self._key] = False
        return await self._create(*args, **kwargs)


class _RecordingOrders:
    """The cycle's read of its open orders, noting whether it found none; answered "none"
    without reading while that is known (``QuietHolds.none_open``)."""

    def __init__(self, read: Any, owner: QuietHolds, key: int) -> None:
        self._read = read
        self._owner = owner
        self._key = key

    async def __call__(self) -> list[Any]:
        owner = self._owner
        if owner.knows_none_open(self._key):
            owner.orders_known += 1
            owner.no_orders[self._key] = True
            return []
        rows = await self._read()
        owner.no_orders[self._key] = not rows
        owner.none_open[self._key] = not rows
        return rows


class _RecordingPositions:
    """The cycle's read of its open positions, answered "none" without reading while that
    is known (``QuietHolds.none_positions``)."""

    def __init__(self, read: Any, owner: QuietHolds, key: int) -> None:
        self._read = read
        self._owner = owner
        self._key = key

    async def __call__(self) -> list[Any]:
        owner = self._owner
        if owner.knows_none_held(self._key):
            owner.positions_known += 1
            return []
        rows = await self._read()
        # none held and no order open: a position can only come of a lock taken or an
        # order made, both watched
        owner.none_positions[self._key] = not rows and owner.knows_none_open(self._key)
        return rows


class _RecordingLocks:
    """The worker's ``LockService`` as it is, but for ``locks_of`` its own worker answered
    "none" without reading while that is known, and ``acquire_lock`` noted (before the
    call) as the end of what is known of its locks and positions."""

    def __init__(self, locks: Any, owner: QuietHolds, key: int, worker_id: str) -> None:
        self._locks = locks
        self._owner = owner
        self._key = key
        self._worker_id = worker_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._locks, name)

    async def acquire_lock(self, *args: Any, **kwargs: Any) -> Any:
        self._owner.none_locks.pop(self._key, None)
        self._owner.none_positions.pop(self._key, None)
        return await self._locks.acquire_lock(*args, **kwargs)

    async def locks_of(self, worker_id: str) -> list[Any]:
        owner, own = self._owner, worker_id == self._worker_id
        if own and owner.knows_none_held(self._key, locks=True):
            owner.locks_known += 1
            return []
        rows = await self._locks.locks_of(worker_id)
        if own:
            owner.none_locks[self._key] = not rows
        return rows


def on_step_grid(open_at: datetime, moments: Sequence[datetime]) -> bool:
    """Whether every moment is a whole number of market steps after the open."""
    grid = timedelta(seconds=STEP_SECONDS)
    return all((m - open_at) % grid == timedelta(0) for m in moments)


class QuietHolds:
    """Which of a stepped fleet's HOLD polls to skip (see the module)."""

    def __init__(self, open_at: datetime) -> None:
        self._open_at = open_at
        self.step = -1                            # the market step of the poll under way
        self.quiet: dict[int, int] = {}           # cycle -> step of its last quiet hold
        self.no_orders: dict[int, bool] = {}     # cycle -> its last open-orders read empty
        # cycle -> it has no open order: its last read found none, and since then it made
        # no order and ran no follower pass (``following``)
        self.none_open: dict[int, bool] = {}
        self.orders_known = 0                     # reads answered "none" without reading
        # cycle -> it holds no open position (its last read found none with no order of
        # its open, and since then it made no order, took no lock, ran no follower pass) /
        # no lock (its last read found none, and it took none since); only for a cycle
        # whose every lock is taken through the one watched LockService (``_rows_watched``)
        self.none_positions: dict[int, bool] = {}
        self.none_locks: dict[int, bool] = {}
        self._rows_watched: set[int] = set()
        self.positions_known = 0
        self.locks_known = 0
        self._time_exit: dict[int, timedelta] = {}
        self._creates_watched: set[int] = set()
        self.skipped = 0
        self.follower_skipped = 0                 # follower passes left out (idle_follower)

    def watch(self, cycle: Any, *, time_exit_minutes: int) -> None:
        """Start watching ``cycle`` (wraps its exit check and its open-orders read)."""
        key = id(cycle)
        self._time_exit[key] = timedelta(minutes=time_exit_minutes)
        cycle._watch = _RecordingWatch(cycle._watch, self, key)
        cycle.paths = replace(cycle.paths,
                              open_orders=_RecordingOrders(cycle.paths.open_orders, self, key))
        orders = cycle.paths.orders
        if orders is not None:              # entry, sells and liquidation share this one
            orders.create_order = _RecordingCreates(orders.create_order, self, key)
            self._creates_watched.add(key)
        self._watch_rows(cycle, key)

    def _watch_rows(self, cycle: Any, key: int) -> None:
        """Wrap the cycle's positions read and its ``LockService`` when every lock the
        worker takes goes through that one service (the cycle's, the entry's, the orphan
        adopter's); otherwise leave them as they are."""
        locks = getattr(cycle, "_locks", None)
        if locks is None or key not in self._creates_watched:
            return
        orphans = cycle.hooks.orphans
        sharing = [getattr(cycle.paths.entry, "_locks", None),
                   getattr(orphans, "_locks", None) if orphans is not None else locks]
        if any(other is not locks for other in sharing):
            return
        watched = _RecordingLocks(locks, self, key, cycle.worker_id)
        cycle._locks = watched
        cycle.paths.entry._locks = watched
        if orphans is not None:
            orphans._locks = watched
        cycle.paths = replace(cycle.paths, open_positions=_RecordingPositions(
            cycle.paths.open_positions, self, key))
        self._rows_watched.add(key)

    def at(self, now: datetime) -> None:
        """The clock of the coming polls."""
        self.step = int((now - self._open_at).total_seconds()) // STEP_SECONDS

    def skip(self, cycle: Any) -> bool:
        """True: ``cycle``'s follower pass and poll now would repeat its last quiet hold."""
        key = id(cycle)
        if cycle.status is not WorkerStatus.HOLD or self.quiet.get(key) != self.step \
                or not self.no_orders.get(key, False):
            return False
        liquidation = cycle.liquidation_at      # read now: the operator may move it earlier
        if key not in self._time_exit or not on_step_grid(self._open_at, (
                liquidation, liquidation - self._time_exit[key])):
            return False
        self.skipped += 1
        return True

    def idle_follower(self, cycle: Any) -> bool:
        """True: ``cycle``'s follower pass now has nothing to follow (see the module).
        Asked before ``polling``, which forgets the last poll's read."""
        key = id(cycle)
        if key in self._creates_watched and self.no_orders.get(key, False):
            self.follower_skipped += 1
            return True
        return False

    def knows_none_open(self, key: int) -> bool:
        """The cycle ``key`` has no open order (see the module); never for a cycle whose
        order-making is not watched."""
        return key in self._creates_watched and self.none_open.get(key, False)

    def knows_none_held(self, key: int, *, locks: bool = False) -> bool:
        """The cycle ``key`` holds no open position (``locks``: no lock; see the module);
        never for a cycle whose locks are not watched."""
        known = self.none_locks if locks else self.none_positions
        return key in self._rows_watched and known.get(key, False)

    def following(self, cycle: Any) -> None:
        """``cycle``'s follower pass runs now: its next open-orders read reads again, and
        so does its next positions read (the pass may record a fill)."""
        self.none_open.pop(id(cycle), None)
        self.none_positions.pop(id(cycle), None)

    def polling(self, cycle: Any) -> None:
        """``cycle`` polls now: its last poll is no longer the quiet one."""
        self.quiet.pop(id(cycle), None)
        self.no_orders.pop(id(cycle), None)
