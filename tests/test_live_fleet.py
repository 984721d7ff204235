"""The replay's orphan look answered "none" (``replay.live_fleet``) only while the day's
worker rows, read once, are all this fleet's and none ``EXIT``, and every worker of the
fleet holds a valid lease; each guard alone on stand-ins (the fleet day that trades the
same with it is in ``test_known_pnl``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tradefleet.domain.lease import Lease
from tradefleet.replay.live_fleet import LiveFleet

TTL = 30.0


class _Pool:
    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows

    async def fetch(self, sql: str) -> list[dict[str, str]]:
        return self.rows


class _Store:
    def __init__(self) -> None:
        self.looks = 0

    async def orphan_positions(self) -> list[Any]:
        self.looks += 1
        return ["an orphan"]


class _Rig:
    """Workers w1, w2 with leases on a clock the test moves, one orphan store each."""

    def __init__(self) -> None:
        self.now = 100.0
        self.live = LiveFleet()
        self.stores: list[_Store] = []
        self.leases: list[Lease] = []
        for k, name in enumerate(("w1", "w2"), 1):
            lease = Lease(TTL, monotonic=lambda: self.now)
            lease.grant(k, self.now)
            store = _Store()
            self.live.watch(SimpleNamespace(lease=lease, config=SimpleNamespace(worker_id=name)),
                            SimpleNamespace(hooks=SimpleNamespace(
                                orphans=SimpleNamespace(_store=store))))
            self.stores.append(store)
            self.leases.append(lease)

    async def checked(self, *rows: tuple[str, str]) -> _Rig:
        await self.live.check_rows(_Pool([{"worker_id": w, "status": s} for w, s in rows]))
        return self

    async def look(self) -> list[Any]:
        return await self.stores[0].orphan_positions()


async def test_the_look_is_answered_none_while_every_row_is_the_fleets_and_live() -> None:
    rig = await _Rig().checked(("w1", "SCAN"), ("w2", "HOLD"))
    assert await rig.look() == []
    assert await rig.stores[1].orphan_positions() == []
    assert rig.stores[0].looks == rig.stores[1].looks == 0 and rig.live.served == 2


async def test_a_lapsed_lease_of_any_worker_reads_again() -> None:
    rig = await _Rig().checked(("w1", "SCAN"), ("w2", "SCAN"))
    rig.leases[0].renew(rig.now + TTL)          # w1 beat later; w2 did not
    rig.now += TTL                              # w2's lease is past ttl - margin
    assert await rig.look() == ["an orphan"]
    rig.leases[1].renew(rig.now)
    assert await rig.look() == []


async def test_a_revoked_lease_reads_again() -> None:
    rig = await _Rig().checked(("w1", "SCAN"), ("w2", "SCAN"))
    rig.leases[1].revoke()
    assert await rig.look() == ["an orphan"]


async def test_a_row_not_of_the_fleet_reads_every_time() -> None:
    rig = await _Rig().checked(("w1", "SCAN"), ("w2", "SCAN"), ("someone", "SCAN"))
    assert await rig.look() == ["an orphan"]


async def test_a_row_already_exit_reads_every_time() -> None:
    rig = await _Rig().checked(("w1", "SCAN"), ("w2", "EXIT"))
    assert await rig.look() == ["an orphan"]


async def test_nothing_is_answered_before_the_rows_are_read() -> None:
    rig = _Rig()
    assert await rig.look() == ["an orphan"]
