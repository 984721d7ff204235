"""The replay's quiet-hold skip (``replay.quiet_holds``) and each of its conditions: a HOLD
poll (and its follower pass) is skipped only after a no-exit check on the same market step
by a poll that found no order of the worker's open, with the exit deadlines on the step
grid. The whole day's
trades with the skip on are compared with a day polled every time in
``test_replay_runner``; here each guard alone, on a stand-in cycle (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.states import WorkerStatus
from tradefleet.replay.quiet_holds import QuietHolds, on_step_grid
from tradefleet.replay.runner import _step_fleet
from tradefleet.worker.cycle_parts import OrderPaths

OPEN = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
LIQUIDATION = datetime(2026, 11, 24, 15, 15, tzinfo=SEOUL)


class _Watch:
    """The exit check's answer, fixed by the test."""

    def __init__(self, reason: object) -> None:
        self.reason = reason

    async def exit_reason(self, held: object, *, liquidation_at: datetime) -> object:
        return self.reason


def _cycle(reason: object = None, *, liquidation_at: datetime = LIQUIDATION,
           open_orders: list[str] | None = None, orders: object = None) -> SimpleNamespace:
    async def rows() -> list[str]:
        return list(open_orders or [])

    async def nothing() -> list[str]:
        return []

    paths = OrderPaths(orders, None, None, open_positions=nothing,  # type: ignore[arg-type]
                       open_orders=rows)
    return SimpleNamespace(status=WorkerStatus.HOLD, liquidation_at=liquidation_at,
                           _watch=_Watch(reason), paths=paths)


async def _polled(holds: QuietHolds, cycle: SimpleNamespace, at: datetime) -> None:
    """One HOLD poll of ``cycle`` at ``at``: its open orders read, then its exit check."""
    holds.at(at)
    holds.polling(cycle)
    await cycle.paths.open_orders()
    await cycle._watch.exit_reason(None, liquidation_at=cycle.liquidation_at)


async def test_a_hold_is_skipped_only_on_the_step_of_its_quiet_check() -> None:
    holds, cycle = QuietHolds(OPEN), _cycle()
    holds.watch(cycle, time_exit_minutes=10)
    await _polled(holds, cycle, OPEN + timedelta(seconds=600))
    holds.at(OPEN + timedelta(seconds=605))                     # same 10 s step
    assert holds.skip(cycle)
    holds.at(OPEN + timedelta(seconds=610))                     # the market stepped
    assert not holds.skip(cycle)
    assert holds.skipped == 1


async def test_an_exit_or_an_open_order_or_another_state_is_not_skipped() -> None:
    holds = QuietHolds(OPEN)
    selling = _cycle(reason="STOP_LOSS")
    holds.watch(selling, time_exit_minutes=0)
    await _polled(holds, selling, OPEN + timedelta(seconds=600))
    holds.at(OPEN + timedelta(seconds=605))
    assert not holds.skip(selling)                              # the check found an exit

    following = _cycle(open_orders=["an order of ours not final yet"])
    holds.watch(following, time_exit_minutes=0)
    await _polled(holds, following, OPEN + timedelta(seconds=600))
    holds.at(OPEN + timedelta(seconds=605))
    assert not holds.skip(following)                 # the follower has an order to follow

    quiet = _cycle()
    holds.watch(quiet, time_exit_minutes=0)
    await _polled(holds, quiet, OPEN + timedelta(seconds=600))
    holds.at(OPEN + timedelta(seconds=605))
    quiet.status = WorkerStatus.SCAN
    assert not holds.skip(quiet)
    quiet.status = WorkerStatus.HOLD
    assert holds.skip(quiet)


@pytest.mark.parametrize(("liquidation", "time_exit_minutes"), [
    (LIQUIDATION + timedelta(seconds=5), 0),          # the liquidation inside a step
    (LIQUIDATION, 0.25),                              # the time exit inside a step
])
async def test_deadlines_off_the_step_grid_are_never_skipped(
        liquidation: datetime, time_exit_minutes: float) -> None:
    holds, cycle = QuietHolds(OPEN), _cycle(liquidation_at=liquidation)
    holds.watch(cycle, time_exit_minutes=time_exit_minutes)  # type: ignore[arg-type]
    await _polled(holds, cycle, OPEN + timedelta(seconds=600))
    holds.at(OPEN + timedelta(seconds=605))
    assert not holds.skip(cycle)
    assert on_step_grid(OPEN, [LIQUIDATION, LIQUIDATION - timedelta(minutes=10)])


class _Orders:
    """The worker's order service as far as the follower's skip sees it: orders made."""

    def __init__(self) -> None:
        self.made = 0

    async def create_order(self, *args: object, **kwargs: object) -> str:
        self.made += 1
        return "a new order row"


async def test_the_follower_is_left_out_only_after_an_empty_read_with_no_order_made_since(
        ) -> None:
    """``idle_follower``: the last poll read no open order of the worker's and made none
    after the read; anything else (no read yet, an order found, an order made, a worker
    whose order-making is not watched) runs the pass."""
    holds, at = QuietHolds(OPEN), OPEN + timedelta(seconds=600)
    orders = _Orders()
    idle = _cycle(orders=orders)
    holds.watch(idle, time_exit_minutes=0)
    assert not holds.idle_follower(idle)                        # no poll has read yet
    await _polled(holds, idle, at)
    assert holds.idle_follower(idle)

    await _polled(holds, idle, at + timedelta(seconds=10))      # read: none open, then
    await idle.paths.orders.create_order("lock", side="BUY")    # an order made after it
    assert orders.made == 1
    assert not holds.idle_follower(idle)

    busy = _cycle(open_orders=["an order of ours not final yet"], orders=_Orders())
    holds.watch(busy, time_exit_minutes=0)
    await _polled(holds, busy, at)
    assert not holds.idle_follower(busy)

    unwatched = _cycle()                                        # no order service to watch
    holds.watch(unwatched, time_exit_minutes=0)
    await _polled(holds, unwatched, at)
    assert not holds.idle_follower(unwatched)
    assert holds.follower_skipped == 1


class _Reads:
    """A worker's open orders as the database holds them, and how often they were read."""

    def __init__(self, *rows: str) -> None:
        self.rows = list(rows)
        self.count = 0

    async def __call__(self) -> list[str]:
        self.count += 1
        return list(self.rows)


def _reading(reads: _Reads, *, orders: object = None) -> SimpleNamespace:
    cycle = _cycle(orders=orders)
    cycle.paths = replace(cycle.paths, open_orders=reads)
    return cycle


async def test_open_orders_are_answered_none_only_after_an_empty_read_with_nothing_since(
        ) -> None:
    """The open-orders read answers "none" without reading only after a read found none,
    with no order made and no follower pass since; an order found, an order made, a pass
    run, or a worker whose order-making is not watched: it reads again."""
    holds = QuietHolds(OPEN)
    reads, orders = _Reads(), _Orders()
    quiet = _reading(reads, orders=orders)
    holds.watch(quiet, time_exit_minutes=0)
    assert await quiet.paths.open_orders() == [] and reads.count == 1
    assert await quiet.paths.open_orders() == [] and reads.count == 1   # known: none
    assert holds.orders_known == 1 and holds.idle_follower(quiet)

    await quiet.paths.orders.create_order("lock", side="BUY")           # an order made
    reads.rows = ["the new order, open"]
    assert await quiet.paths.open_orders() == ["the new order, open"]
    assert await quiet.paths.open_orders() == ["the new order, open"]   # found: reads again
    assert reads.count == 3

    reads.rows = []
    assert await quiet.paths.open_orders() == [] and reads.count == 4
    holds.following(quiet)                              # a follower pass may reopen a row
    reads.rows = ["an EXPIRED row looked at again, open"]
    assert await quiet.paths.open_orders() == reads.rows and reads.count == 5

    unwatched_reads = _Reads()
    unwatched = _reading(unwatched_reads)                # no order service to watch
    holds.watch(unwatched, time_exit_minutes=0)
    await unwatched.paths.open_orders()
    await unwatched.paths.open_orders()
    assert unwatched_reads.count == 2
    assert holds.orders_known == 1


class _Beats:
    async def keep(self, worker: object) -> None:
        return None


async def test_the_runner_reads_open_orders_again_after_a_follower_pass() -> None:
    """``replay.runner`` tells the holds before each follower pass it runs: a row the pass
    brings back open is read, not answered "none" from before the pass."""
    holds, reads = QuietHolds(OPEN), _Reads()
    cycle = _reading(reads, orders=_Orders())
    holds.watch(cycle, time_exit_minutes=0)
    cycle.status = WorkerStatus.SCAN
    passes, seen, reading = [], [], [True, False, True]

    async def reconcile() -> None:
        passes.append(len(seen))
        if len(passes) == 2:
            reads.rows = ["brought back open by the pass"]

    async def poll() -> None:
        if reading.pop(0):
            seen.append(await cycle.paths.open_orders())
        else:
            seen.append("a poll that read no orders")

    cycle.reconcile, cycle.poll = reconcile, poll
    for k in range(3):
        await _step_fleet(OPEN + timedelta(seconds=600 + 10 * k), [object()], [cycle],
                          _Beats(), holds)  # type: ignore[arg-type]
    assert len(passes) == 2                       # the second step's pass was idle
    assert seen[-1] == ["brought back open by the pass"]


class _Locks:
    """A worker's lock service as far as the known-none answers see it."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.reads = 0

    async def locks_of(self, worker_id: str) -> list[str]:
        self.reads += 1
        return list(self.rows) if worker_id == "w-1" else ["another worker's lock"]

    async def acquire_lock(self, symbol: str, worker_id: str, **kwargs: object) -> str:
        self.rows.append(symbol)
        return symbol


def _holder(orders: _Reads, positions: _Reads, locks: _Locks, *,
            entry_locks: object = None) -> SimpleNamespace:
    """A stand-in cycle whose cycle, entry step and orphan adopter share ``locks``."""
    cycle = _reading(orders, orders=_Orders())
    cycle.paths = replace(cycle.paths, open_positions=positions,
                          entry=SimpleNamespace(_locks=entry_locks or locks))
    cycle.hooks = SimpleNamespace(orphans=SimpleNamespace(_locks=locks))
    cycle._locks, cycle.worker_id = locks, "w-1"
    return cycle


async def test_positions_and_locks_are_answered_none_only_while_nothing_could_make_one(
        ) -> None:
    """Open positions are answered "none" without reading only after a read found none
    while no order was open, with no order made, no lock taken and no follower pass since;
    the worker's locks only after a read found none with no lock taken since; and neither
    where a lock could be taken past the watched service."""
    holds = QuietHolds(OPEN)
    orders, positions, locks = _Reads(), _Reads(), _Locks()
    cycle = _holder(orders, positions, locks)
    holds.watch(cycle, time_exit_minutes=0)

    assert await cycle.paths.open_positions() == []           # orders not known none yet
    assert await cycle.paths.open_positions() == [] and positions.count == 2
    await cycle.paths.open_orders()                            # none open
    await cycle.paths.open_positions()
    assert await cycle.paths.open_positions() == [] and positions.count == 3   # known
    assert await cycle._locks.locks_of("w-1") == []
    assert await cycle._locks.locks_of("w-1") == [] and locks.reads == 1       # known
    assert await cycle._locks.locks_of("w-2") == ["another worker's lock"]
    assert holds.positions_known == 1 and holds.locks_known == 1

    await cycle.hooks.orphans._locks.acquire_lock("005930", "w-1")   # an orphan adopted
    positions.rows = ["the adopted position"]
    assert await cycle._locks.locks_of("w-1") == ["005930"]
    assert await cycle.paths.open_positions() == ["the adopted position"]
    assert await cycle._locks.locks_of("w-1") == ["005930"]     # found one: reads again
    assert locks.reads == 4 and positions.count == 4

    positions.rows = []
    await cycle.paths.open_positions()                          # none, none open: known
    await cycle.paths.orders.create_order("lock", side="BUY")   # an order made
    positions.rows = ["filled as it was tracked"]
    assert await cycle.paths.open_positions() == positions.rows

    positions.rows = []
    orders.rows = []
    holds.following(cycle)
    await cycle.paths.open_orders()
    await cycle.paths.open_positions()                          # known again
    holds.following(cycle)                                      # a pass records a fill
    positions.rows = ["an entry filled while followed"]
    assert await cycle.paths.open_positions() == positions.rows

    apart = _holder(_Reads(), _Reads(), _Locks(), entry_locks=_Locks())  # a second service
    holds.watch(apart, time_exit_minutes=0)
    await apart.paths.open_orders()
    for _ in range(2):
        await apart.paths.open_positions()
        await apart._locks.locks_of("w-1")
    assert apart.paths.open_positions.count == 2 and apart._locks.reads == 2
