"""One level-triggered reconcile pass of a TradingWorker: desired state (the spec) against
observed state (its pods and its rows in Postgres) gives the actions to take now. Every
trigger (create, update, resume, the periodic resync, a pod event) runs the same pass, so a
missed event is repaired by the next one, and running it twice does no harm.

The rules that keep money safe:
- Postgres decides whether a worker is alive. A pod that looks dead (Failed, evicted,
  Unknown, gone) while its worker still heartbeats is never treated as dead: partitioned
  nodes leave such processes running. Only a heartbeat stale past its TTL leads to the
  fenced reclaim (locks released, worker marked EXIT) and a replacement pod.
- A new pod is started only when no process of the worker is live, so two processes of one
  worker never run on purpose (and fencing stops one if they ever do).
- A spec change replaces the pod gracefully: SIGTERM, the worker keeps its position and lock,
  the new pod adopts them at start-up.
- A spec the operator cannot run is Degraded: no pod is started, none is replaced, and
  nothing is written but a pause (``spec.paused: true``), which still reaches a process of
  the worker that runs: stopping buying is always safe, and never to be silently dropped."""

from __future__ import annotations

from datetime import timedelta

from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.deletion import plan_deletion
from tradefleet.operator.liquidate_now import liquidate_now_actions
from tradefleet.operator.observe import PodState
from tradefleet.operator.pending import pending_problem
from tradefleet.operator.plan import (
    Action,
    CreatePod,
    DeletePod,
    Desired,
    Emit,
    Observed,
    Plan,
    Reclaim,
    RestartHold,
    WriteControls,
    manifest_for,
)
from tradefleet.operator.pods import SPEC_HASH
from tradefleet.operator.resources import TradingWorkerSpec

BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0        # a pod that lived this long was not a crash loop


def backoff_left(observed: Observed) -> float:
    """Seconds until the next recreation may start: 10 s, doubling per recreation, at most
    5 min, and none when the last pod lived 10 min or more."""
    h = observed.history
    if h.last_pod_created is None:
        return 0.0
    age = (observed.now - h.last_pod_created).total_seconds()
    if age >= BACKOFF_RESET_S:
        return 0.0
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** min(h.recreations, 5))
    return max(0.0, delay - age)


def worker_phase(spec: TradingWorkerSpec, observed: Observed) -> str:
    """The phase of a worker whose pod is its own: what Postgres says it is doing."""
    w = observed.worker
    if not w.registered or w.status == "IDLE":
        return "Starting"
    if w.status == "EXIT":
        return "Stopped"
    ordered = w.controls.liquidate_from(observed.now.date())
    own = (observed.session.close - timedelta(minutes=spec.liquidation_offset_minutes)
           if observed.session is not None else None)
    due = any(t is not None and observed.now >= t for t in (ordered, own))
    if due and not w.holdings.flat:
        return "Liquidating"
    if spec.paused:
        return "Paused"
    return "Holding" if w.status == "HOLD" else "Scanning"


def plan_worker(desired: Desired, observed: Observed, config: OperatorConfig) -> Plan:
    if desired.deleting:
        return plan_deletion(desired, observed, config)
    if desired.problems or desired.spec is None:
        return _degraded(desired, observed, config)
    actions: list[Action] = []
    if observed.worker.controls.buy_paused != desired.spec.paused:
        actions.append(WriteControls(paused=desired.spec.paused))
    actions += liquidate_now_actions(desired.spec.liquidate_now, observed, config.identity)
    manifest = manifest_for(desired, observed, config)
    current = [p for p in observed.pods if not p.deleting]
    current.sort(key=lambda p: p.epoch_before)
    for extra in current[:-1]:          # never more than one: keep the newest
        actions.append(DeletePod(extra.name, None, "Duplicate"))
    if current:
        return _pod_present(desired, observed, config, current[-1], manifest, actions)
    if any(p.deleting for p in observed.pods):
        return _pod_terminating(observed, actions)
    return _pod_absent(desired, observed, config, manifest, actions)


def _degraded(desired: Desired, observed: Observed, config: OperatorConfig) -> Plan:
    """A pause, and a valid spec.liquidateNow, reach a worker that may still run (a pod not
    finished, or a heartbeat), unless the row is another TradingWorker's (same name
    elsewhere). Lifting a pause waits for a valid spec: the safe direction only."""
    notes = [p.message for p in desired.problems]
    actions: list[Action] = []
    w = observed.worker
    runs = w.live or any(not p.finished for p in observed.pods)
    own_row = not any(p.reason == "WorkerIdTaken" for p in desired.problems)
    if runs and own_row and desired.pause_asked and not w.controls.buy_paused:
        actions.append(WriteControls(paused=True))
        notes.append("spec.paused: buying paused in Postgres for the worker that still runs")
    elif runs and own_row and w.controls.buy_paused and not desired.pause_asked:
        notes.append("spec.paused: the worker stays paused until the spec is valid again")
    if runs and own_row:
        actions += liquidate_now_actions(desired.liquidate_now, observed, config.identity)
    return Plan("Degraded", "; ".join(notes), tuple(actions),
                degraded=desired.problems[0] if desired.problems else None,
                ready_reason="Degraded")


def _pod_terminating(observed: Observed, actions: list[Action]) -> Plan:
    w = observed.worker
    gone = [p for p in observed.pods if p.deleting]
    if w.stale:                          # stuck terminating and dead: fenced, force it
        actions.append(Reclaim())
        actions += [DeletePod(p.name, 0, "HeartbeatStale") for p in gone]
        return Plan("Recovering", "heartbeat stale while the pod was terminating: locks "
                    "reclaimed, pod force-deleted", tuple(actions), retry_in=1.0)
    return Plan("Starting" if not w.live else "Stopped" if w.status == "EXIT" else "Recovering",
                f"waiting for pod {gone[0].name} to terminate", tuple(actions),
                ready_reason="PodTerminating", retry_in=2.0)


def _pod_absent(desired: Desired, observed: Observed, config: OperatorConfig,
                manifest: dict, actions: list[Action]) -> Plan:
    w = observed.worker
    if w.live:
        return Plan("Recovering", "no pod, but the worker still heartbeats in Postgres: "
                    "waiting for its heartbeat to stop before starting another",
                    tuple(actions), ready_reason="WorkerWithoutPod")
    if w.stale:
        actions.append(Reclaim())
    if not observed.in_session_window(timedelta(minutes=config.pre_open_minutes)):
        return Plan("Stopped" if w.registered else "Pending",
                    "outside the session: the pod starts shortly before the next open",
                    tuple(actions), ready_reason="OutsideSession")
    h = observed.history
    recreation = h.pod_name is not None and h.pod_spec_hash == \
        manifest["metadata"]["annotations"][SPEC_HASH]
    if recreation:
        left = backoff_left(observed)
        if left > 0:
            return Plan("Recovering", f"recreating the pod in {left:.0f}s (backoff after "
                        f"{h.recreations} recreation(s))", tuple(actions),
                        ready_reason="RecreateBackoff", retry_in=left)
    name = manifest["metadata"]["name"]
    actions.append(CreatePod(manifest, recreation=recreation))
    actions.append(Emit("Normal", "PodRecreated" if recreation else "PodCreated",
                        f"pod {name} started" + (" to replace the last one" if recreation
                                                 else "")))
    return Plan("Starting", f"pod {name} created", tuple(actions), ready_reason="PodStarting")


def restart_hold(observed: Observed, config: OperatorConfig,
                 may_trade: bool = True) -> RestartHold | None:
    """Why a running pod whose spec changed is not replaced yet: the restart window (not for
    a pod still Pending before its worker ever registered: it trades nothing, and its fix,
    e.g. a corrected image, must not wait for the close), then the fleet's restart slots
    (observed.restart_hold)."""
    s = observed.session
    if may_trade and config.restart_window == "OutsideTradingHours" and s is not None \
            and s.open <= observed.now < s.close:
        return RestartHold("OutsideTradingHoursOnly", "pod spec changed; restarts only "
                           f"outside trading hours: waiting for the close at "
                           f"{s.close.strftime('%H:%M')} (restartWindow)")
    return observed.restart_hold


def _pod_present(desired: Desired, observed: Observed, config: OperatorConfig, pod: PodState,
                 manifest: dict, actions: list[Action]) -> Plan:
    assert desired.spec is not None
    w = observed.worker
    owned = w.registered and w.epoch > pod.epoch_before      # the row speaks for this pod
    if w.stale:
        actions.append(Reclaim())
        if owned or pod.finished:
            actions.append(DeletePod(pod.name, 0, "HeartbeatStale"))
            return Plan("Recovering", "heartbeat stale past its TTL: locks reclaimed through "
                        "the fence, worker marked EXIT; the pod is replaced", tuple(actions),
                        ready_reason="HeartbeatStale", retry_in=1.0)
    if pod.spec_hash != manifest["metadata"]["annotations"][SPEC_HASH]:
        phase = worker_phase(desired.spec, observed) if owned else "Starting"
        hold = None if pod.finished else restart_hold(
            observed, config, may_trade=owned or pod.phase != "Pending")
        if hold is not None:
            return Plan(phase, hold.message, tuple(actions), restart_pending=hold)
        actions.append(DeletePod(pod.name, 0 if pod.finished else None, "SpecChanged"))
        actions.append(Emit("Normal", "Replacing", f"spec changed: pod {pod.name} is replaced "
                            "gracefully; the worker keeps its position and lock for the new "
                            "pod"))
        return Plan(phase, f"replacing pod {pod.name} (spec changed)", tuple(actions),
                    retry_in=2.0, restarting=not pod.finished)
    if pod.finished:
        return _pod_finished(observed, config, pod, owned, actions, desired.spec)
    if owned and w.status == "EXIT":
        grace = desired.spec.pod.termination_grace_period_seconds
        if w.reclaimed or (w.stopped_age_seconds or 0) > grace:
            actions.append(DeletePod(pod.name, 0, "WorkerExited"))
            what = "was reclaimed (fenced)" if w.reclaimed else "stopped"
            return Plan("Recovering", f"the worker {what} but pod {pod.name} runs on: "
                        "deleting it", tuple(actions), ready_reason="WorkerStopped")
        return Plan("Stopped", f"the worker stopped; waiting for pod {pod.name} to end",
                    tuple(actions), ready_reason="WorkerStopped")
    if not owned:
        stuck, timed_out = pending_problem(pod, observed.history, observed.now,
                                           config.pod_pending_timeout_seconds)
        if stuck is not None:
            return Plan("Degraded" if timed_out else "Starting", stuck.message,
                        tuple(actions), degraded=stuck, ready_reason=stuck.reason)
        return Plan("Starting", f"pod {pod.name} is {pod.phase}; its worker has not "
                    "registered yet", tuple(actions), ready_reason="PodStarting")
    return Plan(worker_phase(desired.spec, observed), "", tuple(actions))


def _pod_finished(observed: Observed, config: OperatorConfig, pod: PodState, owned: bool,
                  actions: list[Action], spec: TradingWorkerSpec) -> Plan:
    w = observed.worker
    what = f"pod {pod.name} {pod.phase}" + (f" ({pod.hint})" if pod.hint else "")
    if owned and w.live:
        return Plan(worker_phase(spec, observed), f"{what}, but the worker still heartbeats "
                    "in Postgres: not treated as dead", tuple(actions),
                    ready_reason=pod.hint or f"Pod{pod.phase}")
    window = observed.in_session_window(timedelta(minutes=config.pre_open_minutes))
    if pod.phase == "Succeeded" and not window:
        return Plan("Stopped", f"{what}: the day is over", tuple(actions),
                    ready_reason="OutsideSession")
    actions.append(DeletePod(pod.name, 0, pod.hint or pod.phase))
    return Plan("Recovering", f"{what}: replacing it", tuple(actions),
                ready_reason=pod.hint or f"Pod{pod.phase}", retry_in=1.0)
