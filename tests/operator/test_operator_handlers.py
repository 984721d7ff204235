"""Each kopf handler as a plain coroutine called with a ``kopf.Body`` (no kopf reactor):
against the in-memory API over HTTP and a real Postgres, it runs the reconcile pass and
leaves what the pass decided."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import kopf
import pytest
from tests.operator.cluster import running_cluster
from tests.operator.operator_harness import (
    CONFIG,
    NS,
    WorkerProcess,
    schedule_body,
    worker_body,
)

from tradefleet.adapters.clock import FrozenClock
from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.operator.handlers import make_handlers, plain
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.runtime import build_runtime

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


@contextlib.asynccontextmanager
async def _handlers(db, at: datetime = TEN):  # noqa: ANN001, ANN202
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        kube = KubeApi.for_server(url, token="t")
        events: list[tuple[str, str, str, str]] = []
        runtime = build_runtime(
            CONFIG, db=db, kube=kube, clock=FrozenClock(at), calendar=load_krx_calendar(),
            post_event=lambda body, t, r, m: events.append((body["metadata"]["name"], t, r, m)),
            connection=kopf.ConnectionInfo(server=url, token="t"))
        try:
            yield cluster, make_handlers(runtime), runtime, events
        finally:
            await kube.close()


async def _stored(cluster, body: dict[str, Any]) -> kopf.Body:  # noqa: ANN001
    created = await cluster.apply(body)
    return kopf.Body(created)


async def test_changed_creates_the_pod_and_index_keeps_a_detached_copy(db):
    async with _handlers(db) as (cluster, h, _, events):
        body = await _stored(cluster, worker_body("w-1"))
        await h.changed(body=body)
        (pod,) = cluster.pods(NS)
        assert pod["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
        assert cluster.find("tradingworkers", NS, "w-1")["status"]["phase"] == "Starting"
        assert [e[2] for e in events] == ["PodCreated"]
        await h.resync(body=body)                    # the same pass: nothing new
        assert len(cluster.pods(NS)) == 1
        indexed = h.index(namespace=NS, name="w-1", body=body)
        copy = indexed[(NS, "w-1")]
        assert copy == plain(body) and copy is not body and isinstance(copy, dict)


async def test_a_pod_event_reconciles_its_owner_from_the_index(db):
    async with _handlers(db) as (cluster, h, _, _events):
        body = await _stored(cluster, worker_body("w-1"))
        await h.changed(body=body)
        (pod,) = cluster.pods(NS)
        worker = WorkerProcess(db, "w-1")
        await worker.start(host=pod["metadata"]["name"])
        await worker.go_silent()
        await cluster.end_pod(NS, pod["metadata"]["name"], exit_code=137)
        failed = kopf.Body(cluster.pods(NS)[0])
        await h.pod_event(body=failed, tradingworkers={(NS, "w-1"): [plain(body)],
                                                       (NS, "other"): []})
        assert cluster.pods(NS) == []                # reclaimed and force-deleted
        assert await db.pool.fetchval("SELECT status FROM workers") == "EXIT"
        await h.pod_event(body=failed, tradingworkers={})   # an owner we do not know: no-op


async def test_deleted_returns_only_once_the_worker_is_flat(db):
    async with _handlers(db) as (cluster, h, _, _events):
        body = await _stored(cluster, worker_body("w-1"))
        await h.changed(body=body)
        (pod,) = cluster.pods(NS)
        worker = WorkerProcess(db, "w-1")
        await worker.start(host=pod["metadata"]["name"])
        await worker.hold("005930")
        await cluster.delete_object("tradingworkers", NS, "w-1")   # finalizers: none here
        deleting = plain(body)
        deleting["metadata"]["deletionTimestamp"] = "2026-11-24T01:05:00Z"
        finalizer = asyncio.create_task(h.deleted(body=kopf.Body(deleting), namespace=NS,
                                                  name="w-1"))
        await asyncio.sleep(1.5)
        assert not finalizer.done()
        assert (await db.pool.fetchrow("SELECT buy_paused FROM worker_controls"))[0] is True
        await worker.sell_everything()
        await worker.stop()
        await asyncio.sleep(1.5)
        assert not finalizer.done()                  # the pod is still there
        for p in cluster.pods(NS):
            await cluster.remove_pod(NS, p["metadata"]["name"])
        await asyncio.wait_for(finalizer, 10)
        assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0


class _StopAfter:
    """kopf's DaemonStopped, as far as the schedule daemon uses it."""

    def __init__(self, ticks: int) -> None:
        self.ticks = ticks
        self.waits: list[float] = []

    def __bool__(self) -> bool:
        return len(self.waits) >= self.ticks

    async def wait(self, timeout: float) -> None:
        self.waits.append(timeout)


async def test_the_schedule_daemon_ticks_and_sleeps_until_due(db):
    at = datetime(2026, 11, 24, 15, 14, 30, tzinfo=SEOUL)
    async with _handlers(db, at) as (cluster, h, _, _events):
        body = await _stored(cluster, schedule_body("krx"))
        stopped = _StopAfter(1)
        await h.schedule(body=body, stopped=stopped, tradingworkers={})
        assert stopped.waits == [30.0]
        status = cluster.find("liquidationschedules", None, "krx")["status"]
        assert status["nextRun"] == "2026-11-24T15:15:00+09:00"


async def test_login(db):
    async with _handlers(db) as (_, h, runtime, _events):
        assert await h.login() is runtime.connection


@pytest.mark.parametrize("field", ["spec", "status"])
def test_plain_detaches_from_the_body(field):
    raw = worker_body("w-1")
    raw["status"] = {"phase": "Starting"}
    body = kopf.Body(raw)
    copy = plain(body)
    copy[field]["x"] = 1
    assert "x" not in body[field]


def test_the_watch_timeout_reaches_the_apiserver_as_whole_seconds():
    """A real apiserver parses ``timeoutSeconds`` as an integer: kopf sending the configured
    300.0 made every watch answer 400 (seen on tests/real_k8s), so the operator never saw a
    TradingWorker."""
    from dataclasses import replace
    from types import SimpleNamespace

    from tradefleet.operator.handlers import apply_settings

    settings = kopf.OperatorSettings()
    apply_settings(settings, SimpleNamespace(config=replace(CONFIG, watch_timeout_seconds=300.0)))
    assert settings.watching.server_timeout == 300
    assert f"{settings.watching.server_timeout}" == "300"         # what goes into the URL
    assert settings.watching.client_timeout == 330
    apply_settings(settings, SimpleNamespace(config=replace(CONFIG, watch_timeout_seconds=None)))
    assert settings.watching.server_timeout is None
