"""Issue 19 item 5: the liquidation schedule's after-close check (kopf, kmock, Postgres,
looptime). It counts only the holdings of the workers inside the schedule's scope, and its
orphan seller survives an operator restart: started again when the operator comes back
before the close, and, after the close, the account is still checked, so the check never
reports Flat from a seller that was lost.

The seller here is a stand-in for the operator's account access (its own test, with the
exchange simulator, is test_operator_orphans.py): it reports the shares it finds left."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import kopf
import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.operator_harness import (
    CONFIG,
    NS,
    LoopClock,
    WorkerProcess,
    schedule_body,
    worker_body,
)

from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.operator.handlers import build_registry
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.runtime import build_runtime

pytestmark = [pytest.mark.looptime]
ORPHANS = {"namespace": NS, "mode": "sim", "broker": {"baseUrl": "http://exchange:8700"}}


def _kst(hh: int, mm: int) -> datetime:
    return datetime(2026, 11, 24, hh, mm, tzinfo=SEOUL)


class AccountStandIn:
    """What the operator's seller reports: the shares the broker still holds."""

    def __init__(self, log: list[str], left: dict[str, int] | None) -> None:
        self.worker_id = "tradefleet-operator-krx"
        self._log, self._left = log, left

    async def start(self, firing: Any) -> None:
        self._log.append("start")

    async def connect(self) -> None:
        self._log.append("connect")
        if self._left is None:
            raise ConnectionError("broker unreachable")

    async def stop(self) -> int:
        self._log.append("stop")
        return 0

    async def account_left(self, trading_day: date) -> dict[str, int]:
        self._log.append("account_left")
        return dict(self._left or {})


@contextlib.asynccontextmanager
async def _operator(cluster, db, clock, log, left):  # noqa: ANN001, ANN202
    url = str(cluster.url).rstrip("/")
    kube = KubeApi.for_server(url, token="t")
    runtime = build_runtime(replace(CONFIG, resync_seconds=120.0), db=db, kube=kube,
                            clock=clock, calendar=load_krx_calendar(),
                            connection=kopf.ConnectionInfo(server=url, token="t"),
                            orphan_selling=lambda name, spec: AccountStandIn(log, left))
    import asyncio
    stop = asyncio.Event()
    task = asyncio.create_task(kopf.operator(
        registry=build_registry(runtime), namespaces=[NS], clusterwide=False,
        standalone=True, stop_flag=stop))
    try:
        yield runtime
    finally:
        stop.set()
        try:
            await task
        finally:
            await kube.close()


def _status(cluster):  # noqa: ANN001, ANN202
    return (cluster.find("liquidationschedules", None, "krx") or {}).get("status") or {}


async def test_the_check_counts_only_workers_in_scope(loop_db):
    async with running_cluster() as cluster:
        async with _operator(cluster, loop_db, LoopClock(_kst(15, 14)), [], {}):
            mom = worker_body("w-mom")
            mom["metadata"]["labels"] = {"desk": "momentum"}
            await cluster.apply(mom)
            await cluster.apply(worker_body("w-other"))
            other = WorkerProcess(loop_db, "w-other")         # outside the scope, holding
            await other.start()
            await other.hold("005930")
            await cluster.apply(schedule_body("krx", offsetMinutes=15,
                                              checkAfterCloseMinutes=2,
                                              workers={"matchLabels": {"desk": "momentum"}}))
            await eventually(lambda: _status(cluster).get("lastResult") in ("Flat", "NotFlat"),
                             timeout=3600, step=5, what="the check after the close")
            assert _status(cluster)["lastResult"] == "Flat", _status(cluster)
            run = await loop_db.pool.fetchrow("SELECT workers, detail FROM liquidation_runs")
            assert run["workers"] == ["w-mom"] and run["detail"]["workers"] == {}


async def test_an_operator_restart_resumes_the_orphan_seller_and_its_check(loop_db):
    log: list[str] = []
    left = {"005930": 3}                   # the broker still holds orphans after the close
    async with running_cluster() as cluster:
        async with _operator(cluster, loop_db, LoopClock(_kst(15, 14)), log, left):
            await cluster.apply(schedule_body("krx", offsetMinutes=15,
                                              checkAfterCloseMinutes=2, orphans=ORPHANS))
            await eventually(lambda: loop_db.pool.fetchrow("SELECT * FROM liquidation_runs"),
                             timeout=3600, step=5, what="the run")
            await eventually(lambda: log == ["start"], what="the seller started")
        # the operator restarts before the close: the seller is started again
        async with _operator(cluster, loop_db, LoopClock(_kst(15, 20)), log, left):
            await eventually(lambda: log == ["start", "start"], what="the seller resumed")
            await eventually(lambda: _status(cluster).get("lastResult") in ("Flat", "NotFlat"),
                             timeout=3600, step=5, what="the check after the close")
            assert _status(cluster)["lastResult"] == "NotFlat"
            assert "broker holds 3 of 005930" in _status(cluster)["lastMessage"]
        reasons = [r for _, r, _ in cluster.events_for("krx")]
        assert "OrphanSellerResumed" in reasons


@pytest.mark.parametrize("reachable", [True, False], ids=["account-asked", "unverified"])
async def test_after_the_close_a_lost_seller_is_still_checked_never_flat_by_default(
        loop_db, reachable):
    log: list[str] = []
    left = {"005930": 2} if reachable else None
    async with running_cluster() as cluster:
        async with _operator(cluster, loop_db, LoopClock(_kst(15, 14)), log, {}):
            await cluster.apply(schedule_body("krx", offsetMinutes=15,
                                              checkAfterCloseMinutes=2, orphans=ORPHANS))
            await eventually(lambda: log == ["start"], timeout=3600, step=5,
                             what="the seller started")
        # back after the close, before the check: the account is still asked
        async with _operator(cluster, loop_db, LoopClock(_kst(15, 31)), log, left):
            await eventually(lambda: _status(cluster).get("lastResult") in ("Flat", "NotFlat"),
                             timeout=3600, step=5, what="the check after the close")
            assert _status(cluster)["lastResult"] == "NotFlat"
            if reachable:
                assert log[1:] == ["connect", "stop", "account_left"]
            else:
                assert "could not be checked" in _status(cluster)["lastMessage"]
