"""The replay's kept realised PnL (``replay.known_pnl``): an entry's PnL read is answered
again only while no position of that worker has closed (a watched store call returned a
``PositionExitedEvent`` naming it), no watched call raised, the trading day is the same,
and every worker of the fleet is watched; each guard alone on stand-in cycles, and a fleet
day that trades the same with and without it (and ``replay.live_fleet``'s orphan looks)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from tests.fleet_day_rig import replayed_off_and_on

from tradefleet.domain.events import OrderFilledEvent, PositionExitedEvent
from tradefleet.replay.known_pnl import KnownPnl

DAY = date(2026, 11, 24)


def _exited(worker_id: str) -> PositionExitedEvent:
    return PositionExitedEvent(worker_id=worker_id, symbol="005930", position_id=1, qty=1,
                               entry_price="1", exit_price="2", exit_reason="TAKE_PROFIT",
                               realized_pnl=1, result="win")


class _Store:
    """A stand-in order store: each call returns (or raises) what the test queues."""

    def __init__(self) -> None:
        self.answer: list[Any] | Exception = []

    async def apply_report(self, *args: Any) -> tuple[None, list[Any]]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return None, self.answer

    async def record_fill_notice(self, *args: Any) -> tuple[str, None, list[Any]]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return "APPLIED", None, self.answer


class _Rig:
    """Stand-in cycles of workers w1, w2 sharing a ``KnownPnl``; each PnL read counted."""

    def __init__(self) -> None:
        self.day = DAY
        self.pnl = KnownPnl(lambda: self.day)
        self.reads = {"w1": 0, "w2": 0}
        self.value = {"w1": -100, "w2": 50}
        self.during_read: Any = None          # run inside the next read (a close meanwhile)
        self.stores: dict[str, _Store] = {}
        self.entries: dict[str, Any] = {}
        for worker in ("w1", "w2"):
            self.add(worker)

    def add(self, worker: str, *, store: bool = True) -> None:
        self.stores[worker] = _Store()

        async def read(worker: str = worker) -> int:
            self.reads[worker] = self.reads.get(worker, 0) + 1
            if self.during_read is not None:
                hook, self.during_read = self.during_read, None
                await hook()
            return self.value[worker]

        entry = SimpleNamespace(_pnl_today=read)
        self.entries[worker] = entry
        orders = SimpleNamespace(_store=self.stores[worker]) if store else None
        self.pnl.watch(SimpleNamespace(worker_id=worker, paths=SimpleNamespace(
            orders=orders, entry=entry)))

    async def read(self, worker: str) -> int:
        return await self.entries[worker]._pnl_today()


async def test_the_pnl_is_kept_until_a_position_of_that_worker_closes() -> None:
    rig = _Rig()
    assert await rig.read("w1") == -100
    assert await rig.read("w1") == -100
    assert rig.reads["w1"] == 1 and rig.pnl.served == 1
    rig.stores["w2"].answer = [OrderFilledEvent(
        worker_id="w1", symbol="005930", order_id=1, fill_id=1, side="BUY", price="1",
        qty=1, cumulative_qty=1, status="FILLED")]
    await rig.stores["w2"].apply_report(1)            # a fill that closes nothing
    await rig.read("w1")
    assert rig.reads["w1"] == 1
    rig.value["w1"] = -300
    rig.stores["w2"].answer = [_exited("w1")]         # another's store closed w1's row
    await rig.stores["w2"].apply_report(1)            # (an adopter's, say): forgotten
    assert await rig.read("w1") == -300
    assert rig.reads["w1"] == 2


async def test_a_close_by_a_fill_notice_is_seen_too() -> None:
    rig = _Rig()
    await rig.read("w1")
    rig.value["w1"] = 7
    rig.stores["w1"].answer = [_exited("w1")]
    await rig.stores["w1"].record_fill_notice("w1")
    assert await rig.read("w1") == 7


async def test_a_close_of_another_worker_keeps_this_ones() -> None:
    rig = _Rig()
    await rig.read("w1")
    await rig.read("w2")
    rig.stores["w1"].answer = [_exited("w2")]
    await rig.stores["w1"].apply_report(1)
    await rig.read("w1")
    await rig.read("w2")
    assert rig.reads == {"w1": 1, "w2": 2}


async def test_a_store_call_that_raises_forgets_every_answer() -> None:
    rig = _Rig()
    await rig.read("w1")
    rig.stores["w2"].answer = RuntimeError("connection lost mid-transaction")
    with pytest.raises(RuntimeError):
        await rig.stores["w2"].apply_report(1)
    rig.value["w1"] = 9
    assert await rig.read("w1") == 9


async def test_another_trading_day_reads_again() -> None:
    rig = _Rig()
    await rig.read("w1")
    rig.day = date(2026, 11, 25)
    rig.value["w1"] = 0
    assert await rig.read("w1") == 0
    assert rig.reads["w1"] == 2


async def test_a_read_under_which_a_position_closed_is_not_kept() -> None:
    rig = _Rig()
    rig.stores["w1"].answer = [_exited("w1")]
    rig.during_read = lambda: rig.stores["w1"].apply_report(1)
    await rig.read("w1")
    await rig.read("w1")
    assert rig.reads["w1"] == 2


async def test_nothing_is_kept_in_a_fleet_with_an_unwatched_worker() -> None:
    rig = _Rig()
    rig.add("w3", store=False)            # its closes could not be seen
    await rig.read("w1")
    await rig.read("w1")
    assert rig.reads["w1"] == 2 and rig.pnl.served == 0


async def test_a_fleet_trades_the_same_with_its_pnl_kept_and_orphan_looks_answered(
        pg_server_uri, fleet_day) -> None:  # noqa: ANN001
    every, kept_run = await replayed_off_and_on(pg_server_uri, fleet_day, known_pnl=True,
                                                live_fleet=True)
    assert len({t["worker_id"] for t in every.trades}) >= 2, every.trades   # a fleet traded
    assert any(t["status"] == "CLOSED" for t in every.trades)
    assert kept_run.trades == every.trades
    assert every.pnl_served == 0 < kept_run.pnl_served
    assert every.orphans_served == 0 < kept_run.orphans_served      # replay.live_fleet
    print(f"\n{len(every.trades)} trades; {kept_run.pnl_served} PnL reads kept, "
          f"{kept_run.orphans_served} orphan looks answered")
