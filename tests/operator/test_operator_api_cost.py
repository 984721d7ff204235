"""Issue 19/9: the operator's cost to the API server stays flat per worker. A resync pass over
an unchanged world lists no pods, reads no Secret and writes no status; a Secret changed
through the API is checked again at the next pass; a watch a moment behind never starts a
second pod; a stale heartbeat still shows at once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from tests.operator.api_calls import count_calls, kmock_requests
from tests.operator.cluster import eventually, running_cluster
from tests.operator.factories import CONFIG, NOW, desired, observed, pod, worker
from tests.operator.operator_harness import (
    CONFIG as CONFIG_KOPF,
)
from tests.operator.operator_harness import (
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    worker_body,
)

from tradefleet.adapters.clock import FrozenClock
from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.domain.errors import ConfigError
from tradefleet.operator.config import SecretKeyRef, load_operator_config
from tradefleet.operator.kopf_views import POD_INDEX, SECRET_INDEX
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.reconcile import plan_worker
from tradefleet.operator.resources import parse_worker_spec
from tradefleet.operator.runtime import build_runtime
from tradefleet.operator.secret_checks import UNKNOWN, SecretChecks
from tradefleet.operator.status import build_status, without_nones
from tradefleet.settings.secrets import encrypt

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
PER_PASS = ("list pods", "get secrets", "patch tradingworkers/status")


def _conditions(status: dict) -> dict:
    return {c["type"]: c for c in status["conditions"]}


# ---- status: lastHeartbeat moves rarely while Ready ---------------------------------------
def _pass_status(w, previous=None, every=60.0):  # noqa: ANN001, ANN202
    want = desired()
    seen = observed(w, (pod(want),))
    return build_status(want, seen, plan_worker(want, seen, CONFIG), previous,
                        heartbeat_every=every)


def test_a_ready_workers_status_stays_the_same_until_its_heartbeat_is_older_than_the_bound():
    first = without_nones(_pass_status(worker()))
    for later in (5, 30, 55):       # the worker beat again, `later` s after the shown beat
        w = replace(worker(), heartbeat_at=NOW - timedelta(seconds=2 - later),
                    heartbeat_age_seconds=2.0)
        assert without_nones(_pass_status(w, first)) == first       # nothing to patch
    w = replace(worker(), heartbeat_at=NOW + timedelta(seconds=63), heartbeat_age_seconds=1.0)
    moved = _pass_status(w, first)
    assert moved["lastHeartbeat"] == (NOW + timedelta(seconds=63)).isoformat()
    assert _conditions(moved)["Ready"] == _conditions(first)["Ready"]
    # 0: every heartbeat is written (the old behaviour, for whoever wants it)
    w = replace(worker(), heartbeat_at=NOW + timedelta(seconds=3))
    assert _pass_status(w, first, every=0)["lastHeartbeat"] == w.heartbeat_at.isoformat()


def test_a_stale_heartbeat_shows_its_real_time_at_once():
    first = without_nones(_pass_status(worker()))          # shows NOW - 2 s
    # it beat on for 22 s (not shown: within the bound), then fell silent past its TTL
    last = NOW + timedelta(seconds=20)
    stale = replace(worker(live=False), heartbeat_at=last, heartbeat_age_seconds=35.0)
    status = _pass_status(stale, first)
    assert _conditions(status)["Ready"]["status"] == "False"
    assert status["lastHeartbeat"] == last.isoformat()
    # behind a pod that is not Ready: a live heartbeat moves rarely, a stale one at once
    want = desired()
    unready = (pod(want, ready=False),)

    def unready_status(w, previous=None):  # noqa: ANN001, ANN202
        seen = observed(w, unready)
        return build_status(want, seen, plan_worker(want, seen, CONFIG), previous,
                            heartbeat_every=60.0)

    before = without_nones(unready_status(worker()))
    assert _conditions(before)["Ready"]["status"] == "False"
    assert without_nones(unready_status(replace(worker(), heartbeat_at=last), before)) == before
    silent = unready_status(stale, before)
    assert silent["lastHeartbeat"] == last.isoformat()
    # and back: Ready again shows the latest heartbeat at once
    back = replace(worker(), heartbeat_at=last + timedelta(seconds=40))
    status = _pass_status(back, without_nones(status))
    assert _conditions(status)["Ready"]["status"] == "True"
    assert status["lastHeartbeat"] == (last + timedelta(seconds=40)).isoformat()


# ---- Secrets: checked again only when one changed ----------------------------------------
class CountingSecrets:
    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets
        self.versions = {name: "1" for name in secrets}
        self.reads = 0

    async def read(self, namespace: str, name: str) -> dict[str, str] | None:
        self.reads += 1
        found = self.secrets.get(name)
        return None if found is None else dict(found)

    def version(self, namespace: str, name: str) -> object:
        return self.versions.get(name)

    def change(self, name: str, data: dict[str, str]) -> None:
        self.secrets[name] = data
        self.versions[name] = str(int(self.versions.get(name, "0")) + 1)


def _credentials() -> tuple[dict[str, dict[str, str]], bytes]:
    key = Fernet.generate_key()
    kis = {k: encrypt(Fernet(key), v) for k, v in
           (("appkey", "PSKEY"), ("appsecret", "s"), ("cano", "50001234"))}
    return {"kis": kis, "fleet-key": {"key": key.decode()}, "tradefleet-db": {"dsn": "x"}}, key


PAPER = parse_worker_spec({"mode": "paper", "broker": {"baseUrl": "https://paper.example:1"},
                           "capitalLimit": 5_000_000, "dailyLossLimit": 1_000_000,
                           "universe": ["005930"],
                           "credentials": {"secretName": "kis", "keySecretName": "fleet-key"}})


async def test_secret_checks_read_again_only_when_a_version_changed():
    found, _ = _credentials()
    source = CountingSecrets(found)
    checks = SecretChecks(source.read, CONFIG, source.version)
    assert await checks.problems(("t", "w-1"), PAPER, "t") == []
    assert source.reads == 3            # kis, fleet-key, tradefleet-db
    for _ in range(5):
        assert await checks.problems(("t", "w-1"), PAPER, "t") == []
    assert source.reads == 3
    source.change("fleet-key", {"key": Fernet.generate_key().decode()})
    problems = await checks.problems(("t", "w-1"), PAPER, "t")
    assert {p.reason for p in problems} == {"KeyDoesNotDecrypt"} and source.reads == 6
    assert await checks.problems(("t", "w-1"), PAPER, "t") == problems
    assert source.reads == 6
    assert "PSKEY" not in repr(checks.__dict__)            # outcomes only, never values


async def test_without_a_watch_every_pass_reads_its_secrets():
    found, _ = _credentials()
    source = CountingSecrets(found)
    for checks in (SecretChecks(source.read, CONFIG),
                   SecretChecks(source.read, CONFIG, lambda ns, name: UNKNOWN)):
        before = source.reads
        for _ in range(3):
            assert await checks.problems(("t", "w-1"), PAPER, "t") == []
        assert source.reads - before == 9


# ---- the operator for real (kopf, kmock, Postgres) ---------------------------------------
def _condition(cluster, kind, name="w-1"):  # noqa: ANN001, ANN202
    found = cluster.find("tradingworkers", NS, name) or {}
    for cond in (found.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return cond
    return {}


async def _beating(worker: WorkerProcess, every: float = 3.0) -> None:
    while True:
        await worker.beat()
        await asyncio.sleep(every)


async def _ready_worker_with_secrets(cluster, db):  # noqa: ANN001, ANN202
    found, _ = _credentials()
    for name, data in found.items():
        await cluster.write_secret(NS, name, data)
    await cluster.apply(worker_body(
        "w-1", mode="paper", broker={"baseUrl": "https://paper.example:29443"},
        credentials={"secretName": "kis", "keySecretName": "fleet-key"}))
    (p,) = await eventually(lambda: cluster.pods(NS), what="a pod")
    worker = WorkerProcess(db, "w-1")
    await worker.start(host=p["metadata"]["name"])
    beating = asyncio.create_task(_beating(worker))
    await cluster.run_pod(NS, p["metadata"]["name"])
    await eventually(lambda: _condition(cluster, "Ready").get("status") == "True", what="Ready")
    return worker, beating


DB_SECRET = {"db_secret": SecretKeyRef("tradefleet-db", "dsn"), "pod_db_dsn": None}


RESYNC = 0.5        # real seconds: these run on the wall clock, kopf's timer doing the passes


def _reconciles(runtime) -> float:  # noqa: ANN001
    return sum(s.value for m in runtime.metrics.reconciles.collect() for s in m.samples
               if s.name.endswith("_total"))


async def _resyncs(runtime, count: int) -> None:  # noqa: ANN001
    """Wait until kopf's resync timer (and nothing else, the world being still) has made
    ``count`` more passes."""
    start = _reconciles(runtime)
    await eventually(lambda: _reconciles(runtime) >= start + count, step=0.1,
                     timeout=60 + 20 * count * RESYNC, what=f"{count} resync passes")


async def test_a_resync_over_an_unchanged_world_lists_no_pod_reads_no_secret_writes_nothing(
        db):
    async with running_cluster() as cluster, \
            running_operator(cluster, db, LoopClock(TEN), resync_seconds=RESYNC,
                             **DB_SECRET) as runtime:
        worker, beating = await _ready_worker_with_secrets(cluster, db)
        try:
            await _resyncs(runtime, 2)                   # settled
            mark, real = len(cluster.seen), time.monotonic()
            await _resyncs(runtime, 10)
            calls = count_calls(kmock_requests(cluster.seen[mark:]))
            real = time.monotonic() - real
            assert calls["list pods"] == 0 and calls["get secrets"] == 0, calls
            # the worker beat all along: its lastHeartbeat moved at most once per bound
            bound = runtime.config.heartbeat_status_seconds
            assert calls["patch tradingworkers/status"] <= real // bound, (calls, real)
            # a stale heartbeat still shows at the next pass, with its real time
            beating.cancel()
            await worker.go_silent(600)
            ready = await eventually(lambda: _condition(cluster, "Ready").get("status")
                                     == "False" and _condition(cluster, "Ready"),
                                     step=0.1, timeout=30, what="Ready=False")
            # the stale pass deletes the pod, whose own event runs the next pass at once:
            # a poll may see either that pass's reason or the next one's
            assert ready["reason"] in ("HeartbeatStale", "RecreateBackoff"), ready
            shown = cluster.find("tradingworkers", NS, "w-1")["status"]["lastHeartbeat"]
            at = await db.pool.fetchval("SELECT heartbeat_at FROM workers")
            assert datetime.fromisoformat(shown.replace("Z", "+00:00")) == \
                at.replace(microsecond=0)
        finally:
            beating.cancel()


async def test_a_secret_changed_through_the_api_is_checked_again_at_the_next_pass(db):
    async with running_cluster() as cluster, \
            running_operator(cluster, db, LoopClock(TEN), resync_seconds=RESYNC,
                             **DB_SECRET) as runtime:
        _, beating = await _ready_worker_with_secrets(cluster, db)
        try:
            await _resyncs(runtime, 2)
            mark = len(cluster.seen)
            await cluster.write_secret(NS, "fleet-key", {"key": Fernet.generate_key().decode()})
            degraded = await eventually(
                lambda: _condition(cluster, "Degraded").get("status") == "True"
                and _condition(cluster, "Degraded"), step=0.1, timeout=30, what="Degraded")
            assert degraded["reason"] == "KeyDoesNotDecrypt"
            await _resyncs(runtime, 5)
            calls = count_calls(kmock_requests(cluster.seen[mark:]))
            assert calls["get secrets"] == 3, calls        # once, not once per pass
        finally:
            beating.cancel()


async def test_a_watch_behind_the_api_never_starts_a_second_pod(db):
    """A pass that would create or delete a pod confirms with a list first: a pod created a
    moment ago may not be in the watch yet, and a second one would run the same worker."""
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        kube = KubeApi.for_server(url, token="t")
        clock = FrozenClock(TEN)
        events: list[str] = []
        runtime = build_runtime(CONFIG_KOPF, db=db, kube=kube, clock=clock,
                                calendar=load_krx_calendar(),
                                post_event=lambda body, t, r, m: events.append(r))
        assert runtime.views is not None
        runtime.views.attach({POD_INDEX: {}, SECRET_INDEX: {}})     # it has seen nothing
        try:
            await cluster.apply(worker_body("w-1"))
            for _ in range(4):
                body = cluster.find("tradingworkers", NS, "w-1")
                await runtime.workers.reconcile(body)
                clock.advance(900)           # past any recreation backoff
            assert len(cluster.pods(NS)) == 1
            assert events.count("PodCreated") == 1 and "PodRecreated" not in events
        finally:
            await kube.close()


def test_the_heartbeat_bound_is_a_setting_named_when_wrong():
    env = {"TRADEFLEET_OPERATOR_NAMESPACES": "t", "TRADEFLEET_OPERATOR_WORKER_IMAGE": "i",
           "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://x/y"}
    assert load_operator_config(env).heartbeat_status_seconds == 60.0
    key = "TRADEFLEET_OPERATOR_HEARTBEAT_STATUS_SECONDS"
    assert load_operator_config({**env, key: "0"}).heartbeat_status_seconds == 0.0
    with pytest.raises(ConfigError, match=f"{key}: must be in 0..3600"):
        load_operator_config({**env, key: "-5"})
