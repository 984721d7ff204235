"""Two tradefleet releases in one cluster see every (cluster-scoped) LiquidationSchedule;
each runs only the schedules that name it in spec.operator (kopf, kmock, Postgres,
looptime), tried here with two operator configurations in turn; a schedule stored before
spec.operator was required is marked NoOwner, not run."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.operator_harness import LoopClock, running_operator, schedule_body, worker_body

from tradefleet.domain.calendar import SEOUL

pytestmark = [pytest.mark.looptime]
BEFORE_CLOSE = datetime(2026, 11, 24, 15, 12, tzinfo=SEOUL)


def _status(cluster, name):  # noqa: ANN001, ANN202
    return (cluster.find("liquidationschedules", None, name) or {}).get("status") or {}


async def _schedules(cluster) -> None:  # noqa: ANN001
    await cluster.apply(worker_body("w-1"))
    await cluster.apply(schedule_body("of-a", operator="release-a", offsetMinutes=15))
    await cluster.apply(schedule_body("of-b", operator="release-b", offsetMinutes=15))
    legacy = schedule_body("legacy", offsetMinutes=15)
    del legacy["spec"]["operator"]
    await cluster.apply(legacy)


async def test_an_operator_runs_only_its_own_schedules_and_marks_unowned_ones(loop_db):
    async with running_cluster() as cluster:
        await _schedules(cluster)
        async with running_operator(cluster, loop_db, LoopClock(BEFORE_CLOSE),
                                    name="release-a", resync_seconds=120.0):
            await eventually(lambda: _status(cluster, "of-a").get("nextRun"), what="of-a run")
            legacy = await eventually(lambda: _status(cluster, "legacy").get("conditions"),
                                      what="legacy marked")
            await asyncio.sleep(30)
            theirs = _status(cluster, "of-b")
        assert theirs == {}, "release-a wrote the status of release-b's schedule"
        assert legacy[0]["reason"] == "NoOwner" and legacy[0]["status"] == "False"
        assert "spec.operator" in legacy[0]["message"]
        async with running_operator(cluster, loop_db, LoopClock(BEFORE_CLOSE),
                                    name="release-b", resync_seconds=120.0):
            await eventually(lambda: _status(cluster, "of-b").get("nextRun"), what="of-b run")
        assert not _status(cluster, "legacy").get("nextRun")
