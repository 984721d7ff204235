"""reconcile.plan_worker and deletion.plan_deletion as plain functions: desired spec and
observed pods and Postgres rows in, actions out. No Kubernetes here."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.operator.factories import (
    CLOSE,
    CONFIG,
    NOW,
    SPEC,
    desired,
    observed,
    pod,
    worker,
)

from tradefleet.operator.plan import (
    ClearControls,
    CreatePod,
    DeletePod,
    Finalize,
    History,
    Problem,
    Reclaim,
    WriteControls,
)
from tradefleet.operator.pods import SPEC_HASH
from tradefleet.operator.reconcile import backoff_left, plan_worker
from tradefleet.ports.fleet_status import WorkerHoldings
from tradefleet.ports.worker_controls import WorkerControls

HELD = WorkerHoldings(open_positions=1, held_qty=10, locks=1)


def kinds(plan) -> list[str]:  # noqa: ANN001
    return [type(a).__name__ for a in plan.actions]


def test_a_new_worker_gets_one_pod_and_nothing_else():
    plan = plan_worker(desired(), observed(worker(None)), CONFIG)
    assert kinds(plan) == ["CreatePod", "Emit"]
    assert plan.phase == "Starting"
    created = plan.actions[0]
    assert isinstance(created, CreatePod) and not created.recreation
    owner = created.manifest["metadata"]["ownerReferences"][0]
    assert owner["uid"] == "uid-1" and owner["controller"] is True


def test_a_paused_spec_is_written_to_postgres_before_the_pod_exists():
    plan = plan_worker(desired({**SPEC, "paused": True}), observed(worker(None)), CONFIG)
    assert kinds(plan)[:2] == ["WriteControls", "CreatePod"]
    assert plan.actions[0] == WriteControls(paused=True)
    live = worker(controls=WorkerControls(buy_paused=True))
    want = desired({**SPEC, "paused": True})
    steady = plan_worker(want, observed(live, (pod(want),)), CONFIG)
    assert steady.actions == () and steady.phase == "Paused"


def test_no_pod_is_started_outside_the_session():
    late = plan_worker(desired(), observed(worker(None), now=CLOSE + timedelta(minutes=1)),
                       CONFIG)
    assert late.actions == () and late.phase == "Pending"
    holiday = plan_worker(desired(), observed(worker(None), session=None), CONFIG)
    assert holiday.actions == ()
    early = plan_worker(desired(), observed(worker(None), now=NOW.replace(hour=8, minute=56)),
                        CONFIG)
    assert "CreatePod" in kinds(early)          # within pre_open_minutes of the open


def test_a_healthy_worker_needs_nothing():
    want = desired()
    plan = plan_worker(want, observed(worker("HOLD"), (pod(want),)), CONFIG)
    assert plan.actions == () and plan.phase == "Holding"


def test_a_spec_change_replaces_the_pod_gracefully_and_the_next_pod_is_not_a_recreation():
    old = desired()
    new = desired({**SPEC, "capitalLimit": 3_000_000})
    running = pod(old)
    plan = plan_worker(new, observed(worker("HOLD"), (running,)), CONFIG)
    assert kinds(plan) == ["DeletePod", "Emit"]
    assert plan.actions[0] == DeletePod(running.name, None, "SpecChanged")  # SIGTERM + grace
    # the worker stopped (EXIT), the pod is gone: the new pod starts at once (no backoff)
    history = History(pod_name=running.name, pod_spec_hash=running.spec_hash,
                      last_pod_created=NOW - timedelta(seconds=30))
    after = plan_worker(new, observed(worker("EXIT", live=False), history=history), CONFIG)
    assert kinds(after) == ["CreatePod", "Emit"]
    created = after.actions[0]
    assert not created.recreation
    assert created.manifest["metadata"]["annotations"][SPEC_HASH] != running.spec_hash


def test_a_failed_looking_pod_whose_worker_still_heartbeats_is_left_alone():
    want = desired()
    failed = pod(want, status={"phase": "Failed", "reason": "Evicted",
                               "message": "node pressure"})
    plan = plan_worker(want, observed(worker("HOLD"), (failed,)), CONFIG)
    assert plan.actions == ()                     # no reclaim, no delete, no new pod
    assert plan.ready_reason == "Evicted" and "still heartbeats" in plan.note
    gone = plan_worker(want, observed(worker("HOLD")), CONFIG)
    assert gone.actions == () and gone.ready_reason == "WorkerWithoutPod"


def test_a_stale_heartbeat_is_reclaimed_and_its_pod_force_deleted():
    want = desired()
    running = pod(want)
    plan = plan_worker(want, observed(worker("HOLD", live=False), (running,)), CONFIG)
    assert kinds(plan) == ["Reclaim", "DeletePod"]
    assert plan.actions[1] == DeletePod(running.name, 0, "HeartbeatStale")
    # no pod any more: reclaim (again, harmless) and recreate, after the backoff
    history = History(pod_name=running.name, pod_spec_hash=running.spec_hash,
                      last_pod_created=NOW - timedelta(seconds=3), recreations=0)
    waiting = plan_worker(want, observed(worker("HOLD", live=False), history=history), CONFIG)
    assert kinds(waiting) == ["Reclaim"] and waiting.retry_in == 7.0
    later = observed(worker("EXIT", live=False), history=history,
                     now=NOW + timedelta(seconds=8))
    recreate = plan_worker(want, later, CONFIG)
    assert kinds(recreate) == ["CreatePod", "Emit"] and recreate.actions[0].recreation


def test_a_stale_row_of_an_older_process_does_not_kill_the_new_pod():
    want = desired()
    starting = pod(want, epoch_before=4, phase="Pending", ready=False)
    plan = plan_worker(want, observed(worker("HOLD", epoch=4, live=False), (starting,)),
                       CONFIG)
    assert kinds(plan) == ["Reclaim"] and plan.phase == "Starting"


def test_a_pod_that_failed_before_its_worker_registered_is_replaced():
    want = desired()
    crashed = pod(want, epoch_before=3, status={"phase": "Failed", "containerStatuses": [
        {"name": "worker", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]})
    plan = plan_worker(want, observed(worker("EXIT", epoch=3, live=False), (crashed,)), CONFIG)
    assert plan.actions == (DeletePod(crashed.name, 0, "Error"),)


def test_a_worker_that_exited_but_whose_pod_runs_on_is_cleared_after_the_grace():
    want = desired()
    running = pod(want)
    soon = plan_worker(want, observed(worker("EXIT", live=False, stopped_age_seconds=5),
                                      (running,)), CONFIG)
    assert soon.actions == () and soon.phase == "Stopped"
    late = plan_worker(want, observed(worker("EXIT", live=False, stopped_age_seconds=200),
                                      (running,)), CONFIG)
    assert late.actions == (DeletePod(running.name, 0, "WorkerExited"),)


def test_a_pod_that_ended_the_day_is_left_until_the_next_session():
    want = desired()
    done = pod(want, phase="Succeeded", ready=False)
    plan = plan_worker(want, observed(worker("EXIT", live=False), (done,),
                                      now=CLOSE + timedelta(minutes=2)), CONFIG)
    assert plan.actions == () and plan.phase == "Stopped"


def test_degraded_starts_nothing_and_leaves_a_running_pod_but_a_pause_still_reaches_it():
    problem = Problem("KeyDoesNotDecrypt", "spec.credentials.secretName: appkey ...")
    want = desired(problems=(problem,))
    plan = plan_worker(want, observed(worker(None)), CONFIG)
    assert plan.actions == () and plan.phase == "Degraded" and plan.degraded == problem
    with_pod = plan_worker(want, observed(worker("SCAN"), (pod(desired()),)), CONFIG)
    assert with_pod.actions == ()
    # paused: true reaches the process that runs, whatever else is wrong with the spec
    paused = desired({**SPEC, "paused": True}, problems=(problem,))
    running = plan_worker(paused, observed(worker("SCAN"), (pod(desired()),)), CONFIG)
    assert running.actions == (WriteControls(paused=True),) and running.phase == "Degraded"
    invalid = replace(desired(problems=(Problem("InvalidSpec", "spec.capitalLimit: ..."),)),
                      spec=None, paused=True)
    starting = plan_worker(invalid, observed(worker(None), (pod(desired(), phase="Pending"),)),
                           CONFIG)
    assert starting.actions == (WriteControls(paused=True),)
    # nothing runs: nothing is written; done already: nothing again
    assert plan_worker(paused, observed(worker(None)), CONFIG).actions == ()
    done = worker("SCAN", controls=WorkerControls(buy_paused=True))
    assert plan_worker(paused, observed(done, (pod(desired()),)), CONFIG).actions == ()


def test_degraded_never_lifts_a_pause_nor_writes_another_namespaces_row():
    problem = Problem("UnknownStrategy", "spec.strategy.name: ...")
    lifted = desired(problems=(problem,))
    done = worker("SCAN", controls=WorkerControls(buy_paused=True))
    plan = plan_worker(lifted, observed(done, (pod(desired()),)), CONFIG)
    assert plan.actions == () and "stays paused" in plan.note
    taken = desired({**SPEC, "paused": True},
                    problems=(Problem("WorkerIdTaken", "metadata.name: ..."),))
    assert plan_worker(taken, observed(worker("SCAN")), CONFIG).actions == ()


def test_backoff_doubles_per_recreation_and_resets_after_a_long_life():
    def left(recreations: int, age_s: float) -> float:
        history = History(pod_name="p", pod_spec_hash="h", recreations=recreations,
                          last_pod_created=NOW - timedelta(seconds=age_s))
        return backoff_left(observed(worker(None), history=history))
    assert [left(n, 0) for n in (0, 1, 2, 5, 9)] == [10, 20, 40, 300, 300]
    assert left(3, 30) == 50 and left(8, 600) == 0


# ---- deletion ---------------------------------------------------------------------------
def _deleting(**changes):  # noqa: ANN003, ANN202
    return desired(deleting=True, deletion_started=NOW - timedelta(seconds=5), **changes)


def test_delete_of_a_holding_worker_orders_liquidation_and_waits():
    want = _deleting()
    plan = plan_worker(want, observed(worker("HOLD", holdings=HELD), (pod(desired()),)),
                       CONFIG)
    assert plan.actions == (WriteControls(paused=True, liquidate_at=NOW),)
    assert plan.phase == "Terminating" and "Finalize" not in kinds(plan)
    asked = WorkerControls(buy_paused=True, liquidate_requested_at=NOW)
    again = plan_worker(want, observed(worker("HOLD", holdings=HELD, controls=asked),
                                       (pod(desired()),)), CONFIG)
    assert again.actions == () and again.degraded is None


def test_delete_finishes_once_flat_and_the_pod_is_gone():
    asked = WorkerControls(buy_paused=True, liquidate_requested_at=NOW)
    want = _deleting()
    running = pod(desired())
    flat = plan_worker(want, observed(worker("SCAN", controls=asked), (running,)), CONFIG)
    assert flat.actions == (DeletePod(running.name, None, "Deleting"),)
    done = plan_worker(want, observed(worker("EXIT", live=False, controls=asked)), CONFIG)
    assert done.actions == (ClearControls(), Finalize())


def test_delete_of_a_dead_worker_with_shares_starts_a_pod_to_sell_them():
    asked = WorkerControls(buy_paused=True, liquidate_requested_at=NOW)
    plan = plan_worker(_deleting(), observed(worker("EXIT", live=False, holdings=HELD,
                                                    controls=asked)), CONFIG)
    assert kinds(plan) == ["CreatePod", "Emit"]
    stale = plan_worker(_deleting(), observed(worker("HOLD", live=False, holdings=HELD,
                                                     controls=asked), (pod(desired()),)),
                        CONFIG)
    assert kinds(stale)[:2] == ["Reclaim", "DeletePod"]


def test_delete_past_its_timeout_is_degraded_but_keeps_waiting():
    asked = WorkerControls(buy_paused=True, liquidate_requested_at=NOW)
    want = desired(deleting=True, deletion_started=NOW - timedelta(hours=1))
    plan = plan_worker(want, observed(worker("HOLD", holdings=HELD, controls=asked),
                                      (pod(desired()),)), CONFIG)
    assert plan.degraded is not None and plan.degraded.reason == "DeletionStuck"
    assert "1 open position(s)" in plan.degraded.message
    assert not any(isinstance(a, Finalize) for a in plan.actions)


def test_delete_of_a_worker_that_never_ran_finishes_at_once():
    plan = plan_worker(_deleting(), observed(worker(None)), CONFIG)
    assert kinds(plan) == ["ClearControls", "Finalize"]


def test_reclaim_is_never_planned_for_a_live_worker():
    want = desired()
    for pods in [(), (pod(want),), (pod(want, phase="Failed", ready=False),),
                 (pod(want, deleting=True),)]:
        for status in ("SCAN", "HOLD", "IDLE"):
            plan = plan_worker(want, observed(worker(status), pods), CONFIG)
            assert not any(isinstance(a, Reclaim) for a in plan.actions), (pods, status)
            assert not any(isinstance(a, DeletePod) and a.grace_seconds == 0
                           for a in plan.actions), (pods, status)


def test_a_worker_reclaimed_by_a_peer_has_its_running_pod_force_deleted_at_once():
    """Another worker's reclaim marked it EXIT while its (frozen) pod still looks Running."""
    want = desired()
    running = pod(want)
    plan = plan_worker(want, observed(worker("EXIT", live=False, reclaimed=True,
                                             stopped_age_seconds=1), (running,)), CONFIG)
    assert plan.actions == (DeletePod(running.name, 0, "WorkerExited"),)
    assert "reclaimed" in plan.note
