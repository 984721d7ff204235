"""Issue 19 item 4: a change of the operator's settings never restarts every worker at once.
Log level and OTEL variables replace no running pod; a new worker image is rolled out a
configurable number of workers at a time, each waiting for the last to be Ready, optionally
only outside trading hours, and a waiting worker says why (condition RestartPending and an
Event). Plain functions first, then kopf against the in-memory API and a real Postgres."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.factories import CONFIG, NOW, OPEN, desired, observed, pod, worker
from tests.operator.operator_harness import (
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    worker_body,
)

from tradefleet.domain.calendar import SEOUL
from tradefleet.domain.states import WorkerStatus
from tradefleet.operator.config import ConfigError, load_operator_config
from tradefleet.operator.plan import DeletePod, RestartHold
from tradefleet.operator.pods import SPEC_HASH, build_pod
from tradefleet.operator.reconcile import plan_worker
from tradefleet.operator.rollout import RestartGate
from tradefleet.operator.status import build_status, transition_events

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
NEW_IMAGE = replace(CONFIG, worker_image="tradefleet:next")


def _hash(config) -> str:  # noqa: ANN001
    want = desired()
    return build_pod(name="w-1", namespace="trading", uid="u", spec=want.spec, config=config,
                     epoch_before=0, serial=0)["metadata"]["annotations"][SPEC_HASH]


def test_log_level_and_otel_need_no_restart_but_the_image_does():
    base = _hash(CONFIG)
    assert _hash(replace(CONFIG, log_level="DEBUG")) == base
    assert _hash(replace(CONFIG, pod_env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://o:4318",
                                          "OTEL_TRACES_SAMPLER": "always_on"})) == base
    assert _hash(NEW_IMAGE) != base
    # the new log level is still what the next pod gets
    spec = desired().spec
    debug = build_pod(name="w-1", namespace="trading", uid="u", spec=spec,
                      config=replace(CONFIG, log_level="DEBUG"), epoch_before=0, serial=0)
    env = {e["name"]: e.get("value") for e in debug["spec"]["containers"][0]["env"]}
    assert env["TRADEFLEET_LOG_LEVEL"] == "DEBUG"


def test_a_held_restart_keeps_the_running_pod_and_says_why():
    want = desired()
    running = pod(want)
    hold = RestartHold("WaitingForRestartSlot", "restart waits for trading/w-2 to be Ready")
    seen = replace(observed(worker("HOLD"), (running,)), restart_hold=hold)
    plan = plan_worker(want, seen, NEW_IMAGE)
    assert plan.actions == () and plan.restart_pending == hold and not plan.restarting
    status = build_status(want, seen, plan, None)
    (cond,) = [c for c in status["conditions"] if c["type"] == "RestartPending"]
    assert (cond["status"], cond["reason"]) == ("True", "WaitingForRestartSlot")
    assert ("Normal", "RestartPending") in [(e.type, e.reason)
                                            for e in transition_events(None, status)]
    free = plan_worker(want, observed(worker("HOLD"), (running,)), NEW_IMAGE)
    assert free.actions[0] == DeletePod(running.name, None, "SpecChanged") and free.restarting


def test_outside_trading_hours_only_waits_for_the_close():
    config = replace(NEW_IMAGE, restart_window="OutsideTradingHours")
    want = desired()
    running = pod(want)
    during = plan_worker(want, observed(worker("HOLD"), (running,)), config)
    assert during.actions == () and during.restart_pending is not None
    assert during.restart_pending.reason == "OutsideTradingHoursOnly"
    assert "15:30" in during.restart_pending.message
    before_open = observed(worker("SCAN"), (running,), now=OPEN.replace(minute=0, hour=8))
    assert plan_worker(want, before_open, config).restarting
    assert load_operator_config({
        "TRADEFLEET_OPERATOR_NAMESPACES": "t", "TRADEFLEET_OPERATOR_WORKER_IMAGE": "i",
        "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://x",
        "TRADEFLEET_OPERATOR_RESTART_WINDOW": "OutsideTradingHours",
        "TRADEFLEET_OPERATOR_MAX_CONCURRENT_RESTARTS": "3"}).max_concurrent_restarts == 3
    with pytest.raises(ConfigError, match="RESTART_WINDOW"):
        load_operator_config({"TRADEFLEET_OPERATOR_NAMESPACES": "t",
                              "TRADEFLEET_OPERATOR_WORKER_IMAGE": "i",
                              "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://x",
                              "TRADEFLEET_OPERATOR_RESTART_WINDOW": "Lunch"})


def test_the_gate_admits_n_at_a_time_and_frees_a_slot_once_ready():
    gate = RestartGate(2)
    want = desired()
    running = pod(want)
    starts = plan_worker(want, observed(worker("HOLD"), (running,)), NEW_IMAGE)
    for n in ("a", "b"):
        assert gate.hold_for((NS, n)) is None
        gate.passed((NS, n), observed(worker("HOLD"), (running,)), starts)
    hold = gate.hold_for((NS, "c"))
    assert hold is not None and "trading/a, trading/b" in hold.message
    assert gate.hold_for((NS, "a")) is None            # a holder goes on
    new_pod = pod(want, epoch_before=1, ready=False)
    starting = observed(worker("SCAN", epoch=1), (new_pod,))
    gate.passed((NS, "a"), starting, plan_worker(want, starting, CONFIG))
    assert gate.holders == ((NS, "a"), (NS, "b"))      # not Ready yet: still held
    ready = observed(worker("SCAN", epoch=2), (pod(want, epoch_before=1),))
    gate.passed((NS, "a"), ready, plan_worker(want, ready, CONFIG))
    assert gate.holders == ((NS, "b"),) and gate.hold_for((NS, "c")) is None
    assert NOW.tzinfo is not None


# ---- kopf, kmock, Postgres ----------------------------------------------------------------
NAMES = ("w-1", "w-2", "w-3")


class LongLivedWorker(WorkerProcess):
    """A worker whose heartbeat TTL outlasts the test (which does not beat on its behalf):
    only the operator's own decisions replace its pod."""

    async def start(self, host: str = "pod") -> int:
        self.epoch = await self.registry.register(self.worker_id, pid=4242, host=host,
                                                  mode="sim", lock_ttl_seconds=3600)
        await self.registry.transition(self.worker_id, self.epoch, WorkerStatus.SCAN,
                                       current_symbol=None, reason="start-up complete")
        return self.epoch


def _passes(runtime) -> float:  # noqa: ANN001
    """Reconcile passes so far, every worker's (a pass lists no pods: it reads the watch)."""
    return sum(s.value for m in runtime.metrics.reconciles.collect() for s in m.samples
               if s.name.endswith("_total"))


def _live_pods(cluster):  # noqa: ANN001, ANN202
    return [p for p in cluster.pods(NS) if not p["metadata"].get("deletionTimestamp")]


def _image(p) -> str:  # noqa: ANN001
    return p["spec"]["containers"][0]["image"]


def _worker_of(p) -> str:  # noqa: ANN001
    return p["metadata"]["labels"]["tradefleet.io/worker"]


def _condition(cluster, name, kind):  # noqa: ANN001, ANN202
    found = cluster.find("tradingworkers", NS, name) or {}
    for cond in (found.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return cond
    return {}


async def _start_fleet(cluster, db) -> dict[str, LongLivedWorker]:  # noqa: ANN001
    for name in NAMES:
        await cluster.apply(worker_body(name))
    await eventually(lambda: len(_live_pods(cluster)) == len(NAMES), what="three pods")
    processes = {}
    for p in _live_pods(cluster):
        processes[_worker_of(p)] = proc = LongLivedWorker(db, _worker_of(p))
        await proc.start(host=p["metadata"]["name"])
        await cluster.run_pod(NS, p["metadata"]["name"])
    for name in NAMES:
        await eventually(lambda n=name: _condition(cluster, n, "Ready").get("status") == "True",
                         what=f"{name} Ready")
    return processes


async def test_settings_changes_restart_no_worker_and_a_new_image_rolls_one_at_a_time(loop_db):
    async with running_cluster() as cluster:
        async with running_operator(cluster, loop_db, LoopClock(TEN)):
            processes = await _start_fleet(cluster, loop_db)
        before = sorted(p["metadata"]["name"] for p in cluster.pods(NS))
        # helm upgrade --set operator.logLevel=DEBUG (and OTEL): the operator restarts...
        async with running_operator(cluster, loop_db, LoopClock(TEN), log_level="DEBUG",
                                    pod_env={"OTEL_TRACES_SAMPLER": "always_on"}) as runtime:
            # ...and reconciles every worker (resumed, then on its timer) at least twice
            await asyncio.sleep(2.5 * runtime.config.resync_seconds)
            await eventually(lambda: _passes(runtime) >= 2 * len(NAMES), what="reconciled")
            assert sorted(p["metadata"]["name"] for p in cluster.pods(NS)) == before
            assert not any(p["metadata"].get("deletionTimestamp") for p in cluster.pods(NS))

        # a new worker image: one restart at a time, each after the last one is Ready
        async with running_operator(cluster, loop_db, LoopClock(TEN),
                                    worker_image="tradefleet:next", max_concurrent_restarts=1):
            rolled: list[str] = []
            for _ in NAMES:
                (old,) = await eventually(
                    lambda: [p for p in cluster.pods(NS) if p["metadata"].get(
                        "deletionTimestamp")], what="one pod terminating")
                name = _worker_of(old)
                assert name not in rolled
                waiting = [n for n in NAMES if n not in rolled and n != name]
                for other in waiting:          # the others keep their pod and say why
                    cond = await eventually(
                        lambda o=other, n=name: f"{NS}/{n}" in _condition(
                            cluster, o, "RestartPending").get("message", "")
                        and _condition(cluster, o, "RestartPending"),
                        what=f"{other} RestartPending")
                    assert (cond["status"], cond["reason"]) == ("True", "WaitingForRestartSlot")
                    await eventually(lambda o=other: ("Normal", "RestartPending") in [
                        (t, r) for t, r, _ in cluster.events_for(o)], what="the Event")
                await processes[name].stop()
                await cluster.remove_pod(NS, old["metadata"]["name"])
                (new,) = await eventually(
                    lambda n=name: [p for p in _live_pods(cluster) if _worker_of(p) == n
                                    and _image(p) == "tradefleet:next"], what="the new pod")
                await asyncio.sleep(20)           # not Ready yet: nobody else goes
                assert not any(p["metadata"].get("deletionTimestamp") for p in cluster.pods(NS))
                processes[name] = LongLivedWorker(loop_db, name)
                await processes[name].start(host=new["metadata"]["name"])
                await cluster.run_pod(NS, new["metadata"]["name"])
                rolled.append(name)
            assert sorted(rolled) == sorted(NAMES)
            await eventually(lambda: all(_image(p) == "tradefleet:next"
                                         for p in cluster.pods(NS)), what="all rolled")
            await eventually(lambda: all(_condition(cluster, n, "RestartPending").get(
                "status") == "False" for n in NAMES), what="nothing pending")
