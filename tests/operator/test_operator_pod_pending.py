"""Issue 19 item 3: a worker pod stuck Pending (an image it cannot pull, a config it cannot
create, no node that fits) is visible at once as Degraded with the kubelet's or the
scheduler's words and a Warning Event, and after the operator's pending timeout the phase is
Degraded, not Starting forever. Plain functions first, then kopf against the in-memory API
and a real Postgres on looptime."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import jsonschema
import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.crd_schema import load_crd, schema_of
from tests.operator.factories import CONFIG, NOW, SPEC, desired, observed, pod, worker
from tests.operator.operator_harness import (
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    worker_body,
)

from tradefleet.domain.calendar import SEOUL
from tradefleet.operator.config import ConfigError, load_operator_config
from tradefleet.operator.plan import DeletePod, History
from tradefleet.operator.reconcile import plan_worker
from tradefleet.operator.rollout import RestartGate
from tradefleet.operator.status import build_status, transition_events, without_nones

STATUS_SCHEMA = schema_of(load_crd("tradingworkers"))["properties"]["status"]
PULL_MESSAGE = ('rpc error: code = NotFound desc = failed to pull and unpack image '
                '"registry.example/tradefleet:typo": not found')
SCHEDULER = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available"


def _waiting(reason: str, message: str) -> dict:
    return {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"},
                           {"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "worker", "ready": False, "restartCount": 0,
                                   "state": {"waiting": {"reason": reason,
                                                         "message": message}}}]}


UNSCHEDULABLE = {"phase": "Pending", "conditions": [
    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
     "message": SCHEDULER}]}


def _pass(status: dict, age_s: float, previous: dict | None = None):  # noqa: ANN202
    """One pass over the worker's own new pod (made ``age_s`` ago), its worker not yet
    registered: (plan, status, events)."""
    want = desired()
    stuck = pod(want, status=status)
    seen = observed(worker(None), (stuck,), now=NOW + timedelta(seconds=age_s),
                    history=History(pod_name=stuck.name, last_pod_created=NOW))
    plan = plan_worker(want, seen, CONFIG)
    built = build_status(want, seen, plan, previous)
    jsonschema.validate(without_nones(built), STATUS_SCHEMA)
    return plan, without_nones(built), transition_events(previous, built)


def _cond(status: dict, kind: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == kind)


@pytest.mark.parametrize(("status", "cause", "words"), [
    pytest.param(_waiting("ImagePullBackOff", 'Back-off pulling image "x"'),
                 "ImagePullBackOff", 'Back-off pulling image "x"', id="image-pull-backoff"),
    pytest.param(_waiting("ErrImagePull", PULL_MESSAGE), "ImagePullBackOff", PULL_MESSAGE,
                 id="err-image-pull"),
    pytest.param(_waiting("CreateContainerConfigError",
                          'couldn\'t find key appkey in Secret trading/kis'),
                 "CreateContainerConfigError", "couldn't find key appkey", id="config-error"),
    pytest.param(UNSCHEDULABLE, "Unschedulable", SCHEDULER, id="unschedulable"),
])
def test_a_stuck_pod_is_degraded_at_once_naming_its_cause(status, cause, words):  # noqa: ANN001
    plan, built, events = _pass(status, age_s=20)
    assert built["phase"] == "Starting"             # may still come good: not timed out yet
    degraded, ready = _cond(built, "Degraded"), _cond(built, "Ready")
    assert (degraded["status"], degraded["reason"]) == ("True", f"PodPending:{cause}")
    assert words in degraded["message"] and plan.degraded is not None
    assert (ready["status"], ready["reason"]) == ("False", f"PodPending:{cause}")
    assert [(e.type, e.reason) for e in events if e.type == "Warning"] == [
        ("Warning", f"PodPending:{cause}")]
    assert words in next(e.message for e in events if e.type == "Warning")
    # the next pass (the kubelet still backing off) posts nothing new
    _, again, more = _pass(status, age_s=40, previous=built)
    assert again == built and not [e for e in more if e.type == "Warning"]


def test_err_image_pull_and_its_backoff_are_one_cause_not_an_event_each():
    _, first, _ = _pass(_waiting("ErrImagePull", PULL_MESSAGE), age_s=10)
    _, then, events = _pass(_waiting("ImagePullBackOff", "Back-off"), age_s=30,
                            previous=first)
    assert _cond(then, "Degraded")["reason"] == _cond(first, "Degraded")["reason"]
    assert not [e for e in events if e.type == "Warning"]


def test_past_the_timeout_the_phase_is_degraded_with_a_new_warning():
    timeout = CONFIG.pod_pending_timeout_seconds
    _, early, _ = _pass(UNSCHEDULABLE, age_s=timeout - 1)
    plan, late, events = _pass(UNSCHEDULABLE, age_s=timeout, previous=early)
    assert (early["phase"], late["phase"]) == ("Starting", "Degraded")
    assert _cond(late, "Degraded")["reason"] == "PodPendingTimeout:Unschedulable"
    assert SCHEDULER in _cond(late, "Degraded")["message"]
    assert ("Warning", "PodPendingTimeout:Unschedulable") in [(e.type, e.reason)
                                                               for e in events]
    assert plan.actions == ()            # the pod is kept: once a node fits, it starts


def test_a_pod_merely_on_its_way_is_starting_until_the_timeout():
    creating = _waiting("ContainerCreating", "")
    timeout = CONFIG.pod_pending_timeout_seconds
    plan, built, _ = _pass(creating, age_s=timeout / 2)
    assert built["phase"] == "Starting" and plan.degraded is None
    assert _cond(built, "Ready")["reason"] == "PodStarting"
    plan, built, events = _pass(creating, age_s=timeout + 5)
    assert built["phase"] == "Degraded"
    assert _cond(built, "Degraded")["reason"] == "PodPendingTimeout"
    assert "ContainerCreating" in _cond(built, "Degraded")["message"]
    assert ("Warning", "PodPendingTimeout") in [(e.type, e.reason) for e in events]


def test_a_pod_made_by_an_earlier_operator_is_timed_by_its_creation():
    want = desired()
    manifest_status = _waiting("ImagePullBackOff", "Back-off")
    stuck = replace(pod(want, status=manifest_status), created=NOW - timedelta(hours=1))
    plan = plan_worker(want, observed(worker(None), (stuck,)), CONFIG)
    assert plan.phase == "Degraded" and plan.degraded is not None
    assert plan.degraded.reason == "PodPendingTimeout:ImagePullBackOff"


def test_a_stuck_new_pod_keeps_its_restart_slot():
    """A bad image in a paced rollout: the first worker's new pod never starts, so the
    rollout stops there even after that worker turns Degraded."""
    gate = RestartGate(1)
    want = desired()
    stuck = pod(want, status=_waiting("ImagePullBackOff", "Back-off"))
    seen = observed(worker(None), (stuck,), history=History(
        pod_name=stuck.name, last_pod_created=NOW - timedelta(hours=1)))
    gate._holders.append((NS, "w-1"))
    plan = plan_worker(want, seen, CONFIG)
    assert plan.phase == "Degraded"
    gate.passed((NS, "w-1"), seen, plan)
    assert gate.hold_for((NS, "w-2")) is not None


def test_a_fixed_spec_replaces_a_stuck_pod_even_outside_the_restart_window():
    """restartWindow OutsideTradingHours holds running workers, not a pod that never
    started: the corrected image replaces it mid-session (and a running one still waits)."""
    config = replace(CONFIG, restart_window="OutsideTradingHours")
    want = desired()
    old_spec = {**SPEC, "capitalLimit": 4_000_000}
    stuck = pod(want, spec=old_spec, status=_waiting("ImagePullBackOff", "Back-off"))
    plan = plan_worker(want, observed(worker(None), (stuck,)), config)
    assert plan.actions[0] == DeletePod(stuck.name, None, "SpecChanged") and plan.restarting
    running = pod(want, spec=old_spec)
    held = plan_worker(want, observed(worker("SCAN"), (running,)), config)
    assert held.actions == () and held.restart_pending is not None


def test_the_timeout_is_an_operator_setting_named_when_wrong():
    base = {"TRADEFLEET_OPERATOR_NAMESPACES": "t", "TRADEFLEET_OPERATOR_WORKER_IMAGE": "i",
            "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://x"}
    assert load_operator_config(base).pod_pending_timeout_seconds == 300
    assert load_operator_config({**base, "TRADEFLEET_OPERATOR_POD_PENDING_TIMEOUT_SECONDS":
                                 "90"}).pod_pending_timeout_seconds == 90
    with pytest.raises(ConfigError, match="POD_PENDING_TIMEOUT_SECONDS"):
        load_operator_config({**base, "TRADEFLEET_OPERATOR_POD_PENDING_TIMEOUT_SECONDS": "1"})


# ---- kopf, kmock, Postgres ----------------------------------------------------------------
TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


def _status(cluster) -> dict:  # noqa: ANN001
    return (cluster.find("tradingworkers", NS, "w-1") or {}).get("status") or {}


def _condition(cluster, kind: str) -> dict:  # noqa: ANN001
    return next((c for c in _status(cluster).get("conditions") or [] if c["type"] == kind), {})


@pytest.mark.looptime
async def test_kubectl_shows_an_image_pull_failure_then_its_timeout_then_the_recovery(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN), pod_pending_timeout_seconds=60):
        await cluster.apply(worker_body("w-1"))
        (stuck,) = await eventually(lambda: cluster.pods(NS), what="a pod")
        name = stuck["metadata"]["name"]
        await cluster.set_pod_status(NS, name, _waiting("ErrImagePull", PULL_MESSAGE))
        loop = __import__("asyncio").get_running_loop()
        seen_at = loop.time()
        await eventually(lambda: _condition(cluster, "Degraded").get("status") == "True",
                         what="Degraded", step=0.1)
        assert loop.time() - seen_at <= 5.0 + 0.5        # within one resync (5 s here)
        degraded = _condition(cluster, "Degraded")
        assert degraded["reason"] == "PodPending:ImagePullBackOff"
        assert PULL_MESSAGE in degraded["message"]
        assert _status(cluster)["phase"] == "Starting"
        warnings = [(r, m) for t, r, m in cluster.events_for("w-1") if t == "Warning"]
        assert [r for r, _ in warnings] == ["PodPending:ImagePullBackOff"]
        assert PULL_MESSAGE in warnings[0][1]

        await eventually(lambda: _status(cluster).get("phase") == "Degraded",
                         what="the pending timeout", timeout=120)
        assert _condition(cluster, "Degraded")["reason"] == \
            "PodPendingTimeout:ImagePullBackOff"
        assert ("Warning", "PodPendingTimeout:ImagePullBackOff") in [
            (t, r) for t, r, _ in cluster.events_for("w-1")]
        assert [p["metadata"]["name"] for p in cluster.pods(NS)] == [name]   # kept

        # the image is pushed: the kubelet starts the pod, the worker registers
        worker = WorkerProcess(loop_db, "w-1")
        await worker.start(host=name)
        await cluster.run_pod(NS, name)
        await eventually(lambda: _condition(cluster, "Ready").get("status") == "True",
                         what="Ready")
        assert _condition(cluster, "Degraded")["status"] == "False"
        assert _status(cluster)["phase"] == "Scanning"
        assert ("Normal", "Recovered") in [(t, r) for t, r, _ in cluster.events_for("w-1")]


RUNNING = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
           "containerStatuses": [{"name": "worker", "ready": False, "restartCount": 0,
                                  "state": {"running": {"startedAt": "2026-11-24T01:00:00Z"}}}]}


def test_a_running_pod_whose_worker_never_registers_is_degraded_after_the_timeout():
    """Not Starting forever: the pod runs, but no worker row speaks for it (a wrong DSN, a
    process stuck before registering)."""
    timeout = CONFIG.pod_pending_timeout_seconds
    plan, early, _ = _pass(RUNNING, age_s=timeout - 1)
    assert early["phase"] == "Starting" and plan.degraded is None
    plan, late, events = _pass(RUNNING, age_s=timeout, previous=early)
    assert late["phase"] == "Degraded"
    degraded = _cond(late, "Degraded")
    assert degraded["reason"] == "WorkerNotRegistered"
    assert "has not registered in Postgres" in degraded["message"]
    assert ("Warning", "WorkerNotRegistered") in [(e.type, e.reason) for e in events]
    assert plan.actions == ()            # reported only: the pod is kept
    gate = RestartGate(1)                # and a rollout stops there
    gate._holders.append((NS, "w-1"))
    want = desired()
    seen = observed(worker(None), (pod(want, status=RUNNING),),
                    now=NOW + timedelta(seconds=timeout),
                    history=History(pod_name=pod(want).name, last_pod_created=NOW))
    gate.passed((NS, "w-1"), seen, plan_worker(want, seen, CONFIG))
    assert gate.hold_for((NS, "w-2")) is not None
