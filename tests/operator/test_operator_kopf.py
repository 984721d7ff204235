"""The operator running for real: kopf against the in-memory Kubernetes API (kmock, real
HTTP), a real Postgres, on looptime so that resyncs, backoffs and a trading day pass in a
moment. The worker processes are stood in for by their rows in Postgres, which is all the
operator judges them by."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.operator_harness import (
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    worker_body,
)

from tradefleet.domain.calendar import SEOUL

pytestmark = [pytest.mark.looptime]
TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


def _status(cluster, name="w-1"):  # noqa: ANN001, ANN202
    found = cluster.find("tradingworkers", NS, name)
    return (found or {}).get("status") or {}


def _condition(cluster, kind, name="w-1"):  # noqa: ANN001, ANN202
    for cond in _status(cluster, name).get("conditions") or []:
        if cond["type"] == kind:
            return cond
    return {}


async def test_create_gives_one_owned_probed_pod_and_a_status_from_postgres(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        created = await cluster.apply(worker_body("w-1", entryCutoffMinutes=7))
        (pod,) = await eventually(lambda: cluster.pods(NS), what="a pod")
        meta = pod["metadata"]
        assert meta["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
        assert meta["ownerReferences"][0]["controller"] is True
        (container,) = pod["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES"] == "7"       # from the CR's spec
        assert _status(cluster).get("phase") in (None, "Starting")

        worker = WorkerProcess(loop_db, "w-1")
        await worker.start(host=meta["name"])
        await cluster.run_pod(NS, meta["name"])
        await eventually(lambda: _condition(cluster, "Ready").get("status") == "True",
                         what="Ready")
        await worker.hold("005930")
        await eventually(lambda: _status(cluster).get("phase") == "Holding", what="Holding")
        status = _status(cluster)
        assert status["currentSymbol"] == "005930" and status["podName"] == meta["name"]
        assert status["epoch"] == worker.epoch and status["observedGeneration"] == 1
        assert _condition(cluster, "Trading")["status"] == "True"
        reasons = [r for _, r, _ in cluster.events_for("w-1")]
        assert "PodCreated" in reasons and "WorkerReady" in reasons
        assert len(cluster.pods(NS)) == 1


async def _running(cluster, db, name="w-1", not_=()):  # noqa: ANN001, ANN202
    """The TradingWorker's (new) pod, made Running, with its worker registered, scanning."""
    (pod,) = await eventually(lambda: [p for p in cluster.pods(NS)
                                       if not p["metadata"].get("deletionTimestamp")
                                       and p["metadata"]["name"] not in not_],
                              what="a new pod")
    worker = WorkerProcess(db, name)
    await worker.start(host=pod["metadata"]["name"])
    await cluster.run_pod(NS, pod["metadata"]["name"])
    await eventually(lambda: _condition(cluster, "Ready", name).get("status") == "True",
                     what="Ready")
    return pod["metadata"]["name"], worker


async def _terminating(cluster, name):  # noqa: ANN001, ANN202
    return await eventually(
        lambda: any(p["metadata"]["name"] == name and p["metadata"].get("deletionTimestamp")
                    for p in cluster.pods(NS)), what=f"{name} terminating")


async def _lock_tokens(db):  # noqa: ANN001, ANN202
    return [r["fencing_token"] for r in await db.pool.fetch(
        "SELECT fencing_token FROM stock_locks ORDER BY symbol")]


async def test_a_spec_change_replaces_the_pod_gracefully_keeping_position_and_lock(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        await cluster.apply(worker_body("w-1"))
        first, worker = await _running(cluster, loop_db)
        await worker.hold("005930")
        tokens = await _lock_tokens(loop_db)
        await cluster.patch_spec("tradingworkers", NS, "w-1", {"capitalLimit": 3_000_000})
        await _terminating(cluster, first)           # SIGTERM with the pod's grace
        assert len(cluster.pods(NS)) == 1            # nothing new while the old one runs
        await worker.stop()                          # the worker leaves, keeping its shares
        await cluster.remove_pod(NS, first)
        (second,) = await eventually(lambda: [p for p in cluster.pods(NS)
                                              if p["metadata"]["name"] != first],
                                     what="the replacement pod")
        env = {e["name"]: e.get("value") for e in second["spec"]["containers"][0]["env"]}
        assert env["TRADEFLEET_RISK__CAPITAL_LIMIT"] == "3000000"
        assert await _lock_tokens(loop_db) == tokens     # never reclaimed
        assert await loop_db.pool.fetchval(
            "SELECT count(*) FROM positions WHERE status = 'OPEN'") == 1
        assert await loop_db.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'WorkerFailedEvent'") == 0
        assert ("Normal", "Replacing") in [(t, r) for t, r, _ in cluster.events_for("w-1")]
        status = _status(cluster)
        assert status["observedGeneration"] == 2 and status["recreations"] == 0


async def test_a_deleted_pod_and_a_failed_pod_are_recreated(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        await cluster.apply(worker_body("w-1"))
        first, worker = await _running(cluster, loop_db)
        resp = await cluster.delete(f"/api/v1/namespaces/{NS}/pods/{first}")  # kubectl delete
        assert resp.status == 200
        await worker.stop()                          # SIGTERM: the worker stops
        await cluster.remove_pod(NS, first)
        second, worker = await _running(cluster, loop_db, not_=(first,))
        await cluster.end_pod(NS, second, exit_code=137, reason="OOMKilled")
        await worker.go_silent()                     # killed: its heartbeat stops
        await _running(cluster, loop_db, not_=(first, second))
        status = _status(cluster)
        assert status["recreations"] == 2 and status["restarts"] == 2
        reasons = [r for _, r, _ in cluster.events_for("w-1")]
        assert reasons.count("PodRecreated") == 2 and "HeartbeatStale" in reasons


async def test_a_stale_heartbeat_is_reclaimed_marked_exit_and_the_pod_recreated(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        await cluster.apply(worker_body("w-1"))
        first, worker = await _running(cluster, loop_db)
        await worker.hold("005930")
        await worker.go_silent()                     # e.g. SIGSTOP, or a partitioned node
        await eventually(lambda: first not in [p["metadata"]["name"]
                                               for p in cluster.pods(NS)],
                         what="the stale pod force-deleted")
        row = await loop_db.pool.fetchrow("SELECT status, epoch FROM workers")
        assert row["status"] == "EXIT"
        assert await _lock_tokens(loop_db) == []        # reclaimed through the fence
        failed = await loop_db.pool.fetchrow(
            "SELECT payload FROM events WHERE event_type = 'WorkerFailedEvent'")
        assert failed["payload"]["detected_by"] == "tradefleet-operator"
        assert failed["payload"]["locks_reclaimed"] == 1
        assert await worker.beat() is False          # the old process is fenced
        await _running(cluster, loop_db, not_=(first,))
        assert await loop_db.pool.fetchval(           # left for the new pod to recover
            "SELECT count(*) FROM positions WHERE status = 'OPEN' AND worker_id = 'w-1'") == 1
        assert ("Warning", "HeartbeatStale") in [(t, r) for t, r, _ in
                                                 cluster.events_for("w-1")]


async def test_a_failed_looking_pod_whose_worker_still_heartbeats_is_not_reclaimed(loop_db):
    import asyncio

    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)) as runtime:
        await cluster.apply(worker_body("w-1"))
        pod, worker = await _running(cluster, loop_db)
        await worker.hold("005930")
        tokens = await _lock_tokens(loop_db)
        await cluster.end_pod(NS, pod, exit_code=137, pod_reason="NodeLost")
        for _ in range(30):                          # 30 resyncs while it keeps beating
            assert await worker.beat()
            await asyncio.sleep(runtime.config.resync_seconds)
        assert [p["metadata"]["name"] for p in cluster.pods(NS)] == [pod]
        assert await _lock_tokens(loop_db) == tokens
        assert await loop_db.pool.fetchval("SELECT status FROM workers") == "HOLD"
        ready = _condition(cluster, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "NodeLost")
        assert "still heartbeats" in _status(cluster)["message"]
        assert ("Warning", "NodeLost") in [(t, r) for t, r, _ in cluster.events_for("w-1")]


async def test_delete_waits_for_the_worker_to_be_flat_then_lets_go(loop_db):
    import asyncio

    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)) as runtime:
        await cluster.apply(worker_body("w-1"))
        pod, worker = await _running(cluster, loop_db)
        await worker.hold("005930")
        await cluster.delete_object("tradingworkers", NS, "w-1")
        controls = await eventually(lambda: loop_db.pool.fetchrow(
            "SELECT * FROM worker_controls WHERE worker_id = 'w-1' "
            "AND liquidate_requested_at IS NOT NULL"), what="the liquidation order")
        assert controls["buy_paused"] is True
        for _ in range(10):
            await asyncio.sleep(runtime.config.resync_seconds)
            assert cluster.find("tradingworkers", NS, "w-1") is not None   # held back
            assert cluster.find("tradingworkers", NS, "w-1")["metadata"].get(
                "deletionTimestamp") is not None
            assert [p["metadata"]["name"] for p in cluster.pods(NS)] == [pod]
        assert _status(cluster)["phase"] == "Terminating"
        await worker.sell_everything()               # the worker liquidates as ordered
        await _terminating(cluster, pod)
        await worker.stop()
        await cluster.remove_pod(NS, pod)
        await eventually(lambda: cluster.find("tradingworkers", NS, "w-1") is None,
                         what="the TradingWorker gone")
        assert await loop_db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0


async def test_a_bad_secret_is_degraded_with_no_pod_and_nothing_written(loop_db):
    import asyncio

    from cryptography.fernet import Fernet

    from tradefleet.settings.secrets import encrypt

    key, other = Fernet.generate_key(), Fernet.generate_key()
    values = {k: encrypt(Fernet(other), v) for k, v in
              (("appkey", "PSKEY"), ("appsecret", "s"), ("cano", "50001234"))}
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)) as runtime:
        cluster.put_secret(NS, "kis", values)
        cluster.put_secret(NS, "fleet-key", {"key": key.decode()})
        await cluster.apply(worker_body(
            "w-1", mode="paper", broker={"baseUrl": "https://paper.example:29443"},
            credentials={"secretName": "kis", "keySecretName": "fleet-key"}, paused=True))
        degraded = await eventually(
            lambda: _condition(cluster, "Degraded").get("status") == "True"
            and _condition(cluster, "Degraded"), what="Degraded")
        assert degraded["reason"] == "KeyDoesNotDecrypt"
        assert "spec.credentials.secretName" in degraded["message"]
        assert _status(cluster)["phase"] == "Degraded"
        await asyncio.sleep(5 * runtime.config.resync_seconds)
        assert cluster.pods(NS) == []
        for table in ("workers", "worker_controls", "events"):
            assert await loop_db.pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        warnings = [(t, r) for t, r, _ in cluster.events_for("w-1")]
        assert warnings.count(("Warning", "KeyDoesNotDecrypt")) == 1
        await cluster.write_secret(NS, "fleet-key", {"key": other.decode()})   # fixed
        await eventually(lambda: cluster.pods(NS), what="a pod once the key is right")
        assert _condition(cluster, "Degraded")["status"] == "False"
        paused = await loop_db.pool.fetchval("SELECT buy_paused FROM worker_controls")
        assert paused is True


async def test_a_worker_id_taken_in_another_namespace_is_degraded(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN), namespaces=(NS, "canary")):
        await cluster.apply(worker_body("w-1"))
        await eventually(lambda: cluster.pods(NS), what="the first pod")
        import time

        time.sleep(1.05)                  # creationTimestamp has a resolution of a second
        twin = worker_body("w-1")
        twin["metadata"]["namespace"] = "canary"
        await cluster.apply(twin)
        degraded = await eventually(
            lambda: ((cluster.find("tradingworkers", "canary", "w-1") or {}).get("status")
                     or {}).get("phase") == "Degraded"
            and cluster.find("tradingworkers", "canary", "w-1")["status"], what="Degraded")
        assert "WorkerIdTaken" in [c["reason"] for c in degraded["conditions"]]
        assert cluster.pods("canary") == [] and len(cluster.pods(NS)) == 1
        first = cluster.find("tradingworkers", NS, "w-1")["status"]
        assert first["phase"] != "Degraded"
