"""Deleting a TradingWorker (behind the operator's finalizer): the worker is ordered through
Postgres to stop buying and liquidate now; the finalizer goes once the database shows
nothing left for it (no open position, no lock, no open order) and its pod has ended.
While shares remain and no process of the worker is live, a pod is started again so that
something sells them. Past the timeout the wait goes on, but loudly (Degraded, an Event)."""

from __future__ import annotations

from datetime import timedelta

from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.plan import (
    Action,
    ClearControls,
    CreatePod,
    DeletePod,
    Desired,
    Emit,
    Finalize,
    Observed,
    Plan,
    Problem,
    Reclaim,
    WriteControls,
    manifest_for,
)
from tradefleet.ports.fleet_status import WorkerHoldings

POLL_S = 5.0


def describe(h: WorkerHoldings) -> str:
    return (f"{h.open_positions} open position(s) ({h.held_qty} shares), {h.locks} lock(s), "
            f"{h.open_orders} open order(s)")


def _stuck(desired: Desired, observed: Observed, config: OperatorConfig,
           h: WorkerHoldings) -> Problem | None:
    started = desired.deletion_started
    if started is None:
        return None
    waited = (observed.now - started).total_seconds()
    if waited <= config.delete_timeout_seconds:
        return None
    return Problem("DeletionStuck", f"deletion waiting {waited:.0f}s for the worker to be "
                   f"flat; still {describe(h)} in Postgres")


def plan_deletion(desired: Desired, observed: Observed, config: OperatorConfig) -> Plan:
    w, h, now = observed.worker, observed.worker.holdings, observed.now
    if not w.registered and h.flat and not observed.pods:
        return Plan("Terminating", "nothing ran: deleted", (ClearControls(), Finalize()))
    actions: list[Action] = []
    asked = w.controls.liquidate_from(now.date())
    if asked is None or asked > now or not w.controls.buy_paused:
        actions.append(WriteControls(paused=True, liquidate_at=now))
    running = [p for p in observed.pods if not p.deleting]
    if h.flat:
        return _flat(observed, running, actions)
    stuck = _stuck(desired, observed, config, h)
    if w.live:
        return Plan("Terminating", f"liquidating before deletion: {describe(h)}",
                    tuple(actions), degraded=stuck, retry_in=POLL_S)
    if w.stale:
        actions.append(Reclaim())
    for pod in observed.pods:            # a dead worker's pods: fenced, force them
        if pod.finished or pod.deleting or w.stale or w.reclaimed:
            actions.append(DeletePod(pod.name, 0, "WorkerNotLive"))
    if running and not any(p.finished for p in running) and not w.stale:
        return Plan("Terminating", f"waiting for pod {running[0].name} to start and "
                    f"liquidate: {describe(h)}", tuple(actions), degraded=stuck,
                    retry_in=POLL_S)
    window = observed.in_session_window(timedelta(minutes=config.pre_open_minutes))
    if desired.spec is None or not window or observed.pods:
        return Plan("Terminating", f"no live process to sell: {describe(h)}; left to the "
                    "fleet's orphan reconciliation", tuple(actions), degraded=stuck,
                    retry_in=POLL_S)
    manifest = manifest_for(desired, observed, config)
    actions += [CreatePod(manifest, recreation=True),
                Emit("Normal", "PodCreated", f"pod {manifest['metadata']['name']} started "
                     f"to liquidate before deletion: {describe(h)}")]
    return Plan("Terminating", "starting a pod to liquidate before deletion", tuple(actions),
                degraded=stuck, retry_in=POLL_S)


def _flat(observed: Observed, running: list, actions: list[Action]) -> Plan:
    w = observed.worker
    if running:
        actions += [DeletePod(p.name, None, "Deleting") for p in running]
        return Plan("Terminating", "flat in Postgres: stopping the pod", tuple(actions),
                    retry_in=2.0)
    if observed.pods:                     # terminating
        if w.stale:
            actions.append(Reclaim())
            actions += [DeletePod(p.name, 0, "HeartbeatStale") for p in observed.pods]
        return Plan("Terminating", f"flat; waiting for pod {observed.pods[0].name} to end",
                    tuple(actions), retry_in=2.0)
    if not w.live:
        actions.append(ClearControls())
    actions.append(Finalize())
    return Plan("Terminating", "flat and stopped: deleted", tuple(actions))
