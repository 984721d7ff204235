"""Issue 19 item 1: a reconcile pass that fails reaches the user. An apiserver error (500),
a status patch that fails after the pod was made, Postgres down: each gives the
TradingWorker Reconciled=False and Degraded=True naming the cause (ApiError,
DatabaseUnavailable...), phase Degraded, and one Warning Event with that reason (also when
the status itself cannot be written), and the pass is retried at the resync interval, not
after kopf's default minute. Nothing the failed pass did is claimed in status. The real
apiserver's version is in tests/real_k8s/test_operator_failures.py."""

from __future__ import annotations

from datetime import datetime

import aiohttp
import asyncpg
import jsonschema
import kopf
import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.crd_schema import load_crd, schema_of
from tests.operator.operator_harness import (
    CONFIG,
    NS,
    LoopClock,
    running_operator,
    schedule_body,
    worker_body,
)

from tradefleet.adapters.clock import FrozenClock, WallClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.local_fleet.processes import free_port
from tradefleet.operator.failure import (
    ActionFailed,
    ReconcileFailed,
    failed_status,
    failure_problem,
)
from tradefleet.operator.handlers import build_registry, make_handlers, plain
from tradefleet.operator.kube import KubeApi, KubeError
from tradefleet.operator.runtime import build_runtime

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
STATUS_SCHEMA = schema_of(load_crd("tradingworkers"))["properties"]["status"]
ETCD = "etcdserver: request timed out"


def _status(cluster, name="w-1"):  # noqa: ANN001, ANN202
    return ((cluster.find("tradingworkers", NS, name) or {}).get("status")) or {}


def _condition(cluster, kind, name="w-1"):  # noqa: ANN001, ANN202
    for cond in _status(cluster, name).get("conditions") or []:
        if cond["type"] == kind:
            return cond
    return {}


def _warnings(cluster, reason, name="w-1"):  # noqa: ANN001, ANN202
    return [m for t, r, m in cluster.events_for(name) if t == "Warning" and r == reason]


# ---- the cause, in a user's words ---------------------------------------------------------
@pytest.mark.parametrize(("error", "reason", "words"), [
    (KubeError(500, '{"kind":"Status","reason":"InternalError","message":"etcd down"}'),
     "ApiError", "answered 500 InternalError: etcd down"),
    (KubeError(409, '{"reason":"Conflict","message":"the object has been modified"}'),
     "ApiError", "409 Conflict: the object has been modified"),
    (KubeError(403, '{"reason":"Forbidden","message":"cannot patch tradingworkers/status"}'),
     "ApiForbidden", "403 Forbidden: cannot patch"),
    (aiohttp.ServerDisconnectedError(), "ApiUnreachable", "could not be reached"),
    (ConnectionRefusedError(111, "Connection refused"), "DatabaseUnavailable",
     "Connection refused"),
    (asyncpg.InterfaceError("pool is closed"), "DatabaseUnavailable", "pool is closed"),
    (TimeoutError(), "DatabaseUnavailable", "TimeoutError"),
    (asyncpg.UndefinedTableError('relation "workers" does not exist'), "DatabaseError",
     'relation "workers" does not exist'),
    (ValueError("bad row"), "ReconcileError", "ValueError: bad row"),
])
def test_every_failure_is_named_by_its_cause(error, reason, words):
    problem = failure_problem(error)
    assert problem.reason == reason and words in problem.message, problem


def test_a_failed_action_says_what_it_was_doing():
    failed = ActionFailed("creating pod w-1-x", KubeError(503, '{"message":"unavailable"}'))
    problem = failure_problem(failed)
    assert problem.reason == "ApiError"
    assert problem.message.startswith("while creating pod w-1-x: the Kubernetes API answered "
                                      "503")


def test_the_failure_status_keeps_every_other_condition_and_field():
    ready = {"type": "Ready", "status": "True", "reason": "WorkerReady", "message": "m",
             "lastTransitionTime": "2026-11-24T01:00:00Z"}
    degraded = {"type": "Degraded", "status": "True", "reason": "ApiError", "message": "old",
                "lastTransitionTime": "2026-11-24T01:05:00Z"}
    previous = {"phase": "Scanning", "podName": "w-1-abc", "conditions": [ready, degraded]}
    problem = failure_problem(KubeError(500, '{"message":"etcd down"}'))
    status = failed_status(previous, problem, TEN, 3, 10.0)
    jsonschema.validate(status, STATUS_SCHEMA)
    jsonschema.validate(failed_status({}, failure_problem(ValueError("x" * 5000)), TEN, 1, 10.0),
                        STATUS_SCHEMA)                         # a first pass, a long message
    assert set(status) == {"phase", "message", "conditions"}     # podName etc. untouched
    assert status["phase"] == "Degraded" and "retrying every 10s" in status["message"]
    by = {c["type"]: c for c in status["conditions"]}
    assert by["Ready"] == ready
    assert by["Degraded"]["lastTransitionTime"] == "2026-11-24T01:05:00Z"   # still True
    assert by["Degraded"]["message"] == problem.message
    assert by["Reconciled"]["status"] == "False" and by["Reconciled"]["reason"] == "ApiError"
    assert by["Reconciled"]["lastTransitionTime"] == TEN.isoformat(timespec="seconds")
    assert by["Reconciled"]["observedGeneration"] == 3


# ---- the operator running (kopf, kmock, Postgres) -----------------------------------------
@pytest.mark.looptime
async def test_an_api_error_on_the_pod_is_reported_retried_at_the_resync_and_recovers(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        cluster.fail("POST", f"/namespaces/{NS}/pods", 500, ETCD)
        await cluster.apply(worker_body("w-1"))
        await eventually(lambda: _condition(cluster, "Reconciled").get("status") == "False",
                         what="Reconciled False")
        assert _status(cluster)["phase"] == "Degraded"
        degraded = _condition(cluster, "Degraded")
        assert degraded["status"] == "True" and degraded["reason"] == "ApiError"
        assert ETCD in degraded["message"] and "creating pod w-1-" in degraded["message"]
        assert not _status(cluster).get("podName")           # nothing created, none claimed
        await eventually(lambda: len(cluster.refused) >= 3, what="two retries", timeout=900)
        assert len(_warnings(cluster, "ApiError")) == 1, cluster.events_for("w-1")
        cluster.heal()
        await eventually(lambda: cluster.pods(NS), what="the pod, once the API answers",
                         timeout=900)
        await eventually(lambda: _condition(cluster, "Reconciled").get("status") == "True",
                         what="Reconciled again", timeout=900)
        assert _condition(cluster, "Degraded")["status"] == "False"
        assert _status(cluster)["phase"] == "Starting" and _status(cluster)["podName"]
        assert ("Normal", "Recovered") in [(t, r) for t, r, _ in cluster.events_for("w-1")]


@pytest.mark.looptime
async def test_a_status_write_failing_after_the_pod_was_made_leaves_one_pod_and_an_event(
        loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        cluster.fail("PATCH", "/tradingworkers/w-1/status", 500, ETCD, times=2)
        await cluster.apply(worker_body("w-1"))
        await eventually(lambda: _warnings(cluster, "ApiError"), what="an ApiError Event")
        (pod,) = await eventually(lambda: cluster.pods(NS), what="the pod")
        await eventually(lambda: _status(cluster).get("podName"), what="status written",
                         timeout=900)
        assert len(cluster.pods(NS)) == 1                     # the next pass found it
        assert _status(cluster)["podName"] == pod["metadata"]["name"]
        assert _condition(cluster, "Reconciled")["status"] == "True"
        assert len(_warnings(cluster, "ApiError")) == 1


async def test_a_failed_pass_is_retried_by_kopf_at_the_resync_interval(db):
    """kopf's own backoff after a failure is a minute; ours is the resync interval, both
    for the TemporaryError the handler raises and for anything else that escapes."""
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        kube = KubeApi.for_server(url, token="t")
        runtime = build_runtime(CONFIG, db=db, kube=kube, clock=FrozenClock(TEN),
                                calendar=load_krx_calendar(), post_event=lambda *_: None,
                                connection=kopf.ConnectionInfo(server=url, token="t"))
        try:
            body = kopf.Body(await cluster.apply(worker_body("w-1")))
            cluster.fail("POST", f"/namespaces/{NS}/pods", 503, ETCD)
            h = make_handlers(runtime)
            with pytest.raises(kopf.TemporaryError) as retry:
                await h.changed(body=body)
            assert retry.value.delay == CONFIG.resync_seconds
            await h.pod_event(body=kopf.Body({"metadata": {"namespace": NS, "labels": {
                "tradefleet.io/worker": "w-1"}}}), tradingworkers={(NS, "w-1"): [plain(body)]})
            assert len(cluster.refused) == 2       # tried; reported; the resync retries it
        finally:
            await kube.close()
    registry = build_registry(runtime)
    ours = [h for h in (*registry._changing.get_all_handlers(),
                        *registry._spawning.get_all_handlers())
            if h.id in ("reconcile", "resync", "finalize")]
    assert {h.id for h in ours} == {"reconcile", "resync", "finalize"}
    assert {h.backoff for h in ours} == {CONFIG.resync_seconds}


async def test_postgres_down_is_reported_even_when_the_status_cannot_be_written(pg_dsn):
    dead = f"postgresql://tf@127.0.0.1:{free_port()}/nothing"
    pool = await asyncpg.create_pool(dead, min_size=0, max_size=1)
    events: list[tuple[str, str, str]] = []
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        kube = KubeApi.for_server(url, token="t")
        runtime = build_runtime(CONFIG, db=Database(pool), kube=kube, clock=WallClock(),
                                calendar=load_krx_calendar(),
                                post_event=lambda _b, t, r, m: events.append((t, r, m)),
                                connection=kopf.ConnectionInfo(server=url, token="t"))
        try:
            await cluster.apply(worker_body("w-1"))
            body = cluster.find("tradingworkers", NS, "w-1")
            for _ in range(2):
                with pytest.raises(ReconcileFailed) as failed:
                    await runtime.workers.reconcile(body)
                assert failed.value.retry_in == CONFIG.resync_seconds
            assert failed.value.problem.reason == "DatabaseUnavailable"
            assert [(t, r) for t, r, _ in events] == [("Warning", "DatabaseUnavailable")]
            assert _condition(cluster, "Degraded")["reason"] == "DatabaseUnavailable"
            assert _condition(cluster, "Reconciled")["status"] == "False"
            # the API fails too: the status cannot say it, the Event still does
            runtime.workers.forget(NS, "w-1")
            cluster.fail("PATCH", "/status", 503, "apiserver is shutting down")
            with pytest.raises(ReconcileFailed):
                await runtime.workers.reconcile(body)
            assert [(t, r) for t, r, _ in events][-1] == ("Warning", "DatabaseUnavailable")
            assert len(events) == 2
        finally:
            await kube.close()
            await pool.close()


async def test_a_schedule_that_cannot_reach_postgres_says_so_and_looks_again_soon():
    """A LiquidationSchedule's look failing (Postgres down near the close) is not a silent
    daemon crash with kopf's minute of backoff: Reconciled=False DatabaseUnavailable on the
    schedule, one Warning Event, and the next look in 10 s."""
    dead = f"postgresql://tf@127.0.0.1:{free_port()}/nothing"
    pool = await asyncpg.create_pool(dead, min_size=0, max_size=1)
    events: list[tuple[str, str, str]] = []
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        kube = KubeApi.for_server(url, token="t")
        runtime = build_runtime(CONFIG, db=Database(pool), kube=kube,
                                clock=FrozenClock(TEN.replace(hour=15, minute=14)),
                                calendar=load_krx_calendar(),
                                post_event=lambda _b, t, r, m: events.append((t, r, m)),
                                connection=kopf.ConnectionInfo(server=url, token="t"))
        try:
            body = await cluster.apply(schedule_body("krx"))
            assert await runtime.schedules.tick(body, []) == 10.0
            assert await runtime.schedules.tick(body, []) == 10.0
            status = cluster.find("liquidationschedules", None, "krx")["status"]
            by = {c["type"]: c for c in status["conditions"]}
            assert by["Reconciled"]["status"] == "False"
            assert by["Reconciled"]["reason"] == "DatabaseUnavailable"
            assert [(t, r) for t, r, _ in events] == [("Warning", "DatabaseUnavailable")]
        finally:
            await kube.close()
            await pool.close()
