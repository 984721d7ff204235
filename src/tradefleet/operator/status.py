"""The TradingWorker's status, derived from what the pass observed (Postgres above all) and
decided: phase, metav1-style conditions (Ready, Trading, Liquidated, Degraded,
RestartPending, Reconciled: False only from a failed pass, operator/failure.py) and the
printer-column fields, so ``kubectl get tw`` is a live view of the fleet. A condition's
lastTransitionTime moves only when its status does; Events are posted on transitions only.
Nothing in it moves while nothing a user reads changes, so that an unchanged fleet costs no
status writes: lastHeartbeat moves at most every ``heartbeat_every`` seconds while the worker
is live (the Heartbeat column's age stays below that bound plus a resync), and at once when
Ready flips; once the heartbeat is stale it shows the last one exactly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradefleet.operator.liquidate_now import liquidate_now_events, liquidate_now_status
from tradefleet.operator.plan import (
    CreatePod,
    Desired,
    Emit,
    History,
    Observed,
    Plan,
    WriteControls,
)
from tradefleet.operator.pods import SPEC_HASH

TRADING = ("SCAN", "HOLD")


def iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason,
            "message": message}


def _ready(observed: Observed, plan: Plan) -> dict[str, Any]:
    w = observed.worker
    pods = [p for p in observed.pods if not p.deleting]
    pod = pods[-1] if pods else None
    if pod is not None and pod.ready and w.live and plan.ready_reason is None:
        return _condition("Ready", True, "WorkerReady",
                          f"pod {pod.name} ready, heartbeat in Postgres within its TTL")
    reason = plan.ready_reason or ("NoPod" if pod is None else
                                   pod.hint or ("HeartbeatStale" if w.stale else "PodNotReady"))
    return _condition("Ready", False, reason, plan.note or reason)


def _buying_paused(observed: Observed, plan: Plan) -> bool:
    """What the worker reads in Postgres once this pass's writes are done, never the spec
    alone (a Degraded worker's spec may ask for what was not written)."""
    for action in plan.actions:
        if isinstance(action, WriteControls) and action.paused is not None:
            return action.paused
    return observed.worker.controls.buy_paused


def _trading(observed: Observed, plan: Plan) -> dict[str, Any]:
    w = observed.worker
    if not w.live or w.status not in TRADING:
        return _condition("Trading", False, "NotRunning", "no live worker in SCAN or HOLD")
    ordered = w.controls.liquidate_from(observed.now.date())
    if ordered is not None and observed.now >= ordered:
        return _condition("Trading", False, "LiquidationOrdered",
                          f"liquidation ordered for {iso(ordered)}")
    if _buying_paused(observed, plan):
        return _condition("Trading", False, "Paused", "buying paused; holdings still managed")
    if w.buy_blocked:
        return _condition("Trading", False, "BuyBlocked", w.buy_blocked)
    return _condition("Trading", True, "Trading", f"worker {w.status}")


def _liquidated(observed: Observed) -> dict[str, Any]:
    w = observed.worker
    ordered = w.controls.liquidate_from(observed.now.date())
    if ordered is None or observed.now < ordered:
        return _condition("Liquidated", False, "NotOrdered", "no liquidation ordered today")
    if w.holdings.flat:
        return _condition("Liquidated", True, "Flat",
                          "no open position, lock or open order in Postgres")
    h = w.holdings
    return _condition("Liquidated", False, "Liquidating",
                      f"{h.open_positions} open position(s), {h.locks} lock(s), "
                      f"{h.open_orders} open order(s)")


def _degraded(plan: Plan) -> dict[str, Any]:
    if plan.degraded is None:
        return _condition("Degraded", False, "AsExpected", "")
    return _condition("Degraded", True, plan.degraded.reason, plan.degraded.message)


def _restart_pending(plan: Plan) -> dict[str, Any]:
    """Why a changed pod spec has not replaced the running pod yet (paced restarts)."""
    hold = plan.restart_pending
    if hold is None:
        return _condition("RestartPending", False, "NotPending", "")
    return _condition("RestartPending", True, hold.reason, hold.message)


def _history(observed: Observed, plan: Plan) -> History:
    """What the operator made; a pod it finds but has no record of (made by a pass whose
    status write then failed, operator/failure.py) is recorded as it is observed."""
    h = observed.history
    current = [p for p in observed.pods if not p.deleting]
    if h.pod_name is None and current:
        pod = current[-1]
        h = History(pod_name=pod.name, pod_spec_hash=pod.spec_hash,
                    last_pod_created=pod.created, recreations=h.recreations)
    for action in plan.actions:
        if isinstance(action, CreatePod):
            meta = action.manifest["metadata"]
            h = History(pod_name=meta["name"], pod_spec_hash=meta["annotations"][SPEC_HASH],
                        last_pod_created=observed.now,
                        recreations=h.recreations + (1 if action.recreation else 0))
    return h


def _parse(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


def heartbeat_shown(previous: dict[str, Any], ready_before: bool, ready_now: bool,
                    observed: Observed, every: float) -> datetime | None:
    """The lastHeartbeat to show: the one shown before while the worker is live and Ready
    does not flip, if that one is less than ``every`` seconds old (by the database clock);
    else the latest (a stale worker's does not move)."""
    w = observed.worker
    shown = _parse(previous.get("lastHeartbeat"))
    if (w.heartbeat_at is None or shown is None or ready_before != ready_now
            or not w.live or every <= 0 or shown > w.heartbeat_at):
        return w.heartbeat_at
    age = (w.heartbeat_age_seconds or 0.0) + (w.heartbeat_at - shown).total_seconds()
    return shown if age < every else w.heartbeat_at


def build_status(desired: Desired, observed: Observed, plan: Plan,
                 previous: dict[str, Any] | None, *,
                 heartbeat_every: float = 0.0) -> dict[str, Any]:
    previous = previous or {}
    w = observed.worker
    history = _history(observed, plan)
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    conditions = []
    for cond in (_ready(observed, plan), _trading(observed, plan),
                 _liquidated(observed), _degraded(plan), _restart_pending(plan),
                 _condition("Reconciled", True, "ReconcileSucceeded", "")):
        before = old.get(cond["type"])
        same = before is not None and before.get("status") == cond["status"]
        cond["lastTransitionTime"] = before["lastTransitionTime"] if same else iso(observed.now)
        cond["observedGeneration"] = desired.generation
        conditions.append(cond)
    pods = [p for p in observed.pods if not p.deleting]
    restarts = history.recreations + (pods[-1].restarts if pods else 0)
    ready_before = (old.get("Ready") or {}).get("status") == "True"
    heartbeat = heartbeat_shown(previous, ready_before, conditions[0]["status"] == "True",
                                observed, heartbeat_every)
    status: dict[str, Any] = {
        "phase": plan.phase, "message": plan.note[:4096],
        "observedGeneration": desired.generation, "conditions": conditions,
        "podName": history.pod_name, "restarts": restarts,
        "recreations": history.recreations, "lastPodCreated": iso(history.last_pod_created),
        "podSpecHash": history.pod_spec_hash,
        "epoch": w.epoch, "lastHeartbeat": iso(heartbeat),
        "currentSymbol": w.current_symbol, "realizedPnlToday": w.realized_pnl_today,
        "tradesToday": w.trades_today, "openPositions": w.holdings.open_positions,
        "liquidationRequestedAt": iso(w.controls.liquidate_from(observed.now.date())),
        # spec.liquidateNow: ordered, ignored as another day's, or not written (Degraded)
        "liquidateNow": liquidate_now_status(desired, observed, plan),
        # the account's feed as the live worker last said (a dead worker's is not shown)
        "feed": w.feed_mode if w.live else None,
    }
    return status          # None values remove the field (a merge patch)


def without_nones(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if v is not None}


def history_of(status: dict[str, Any] | None) -> History:
    status = status or {}
    created = status.get("lastPodCreated")
    return History(pod_name=status.get("podName"), pod_spec_hash=status.get("podSpecHash"),
                   last_pod_created=datetime.fromisoformat(created.replace("Z", "+00:00"))
                   if created else None, recreations=int(status.get("recreations") or 0))


def transition_events(previous: dict[str, Any] | None, status: dict[str, Any]) -> list[Emit]:
    """Events for conditions that changed status (or, for Degraded and Ready, reason)."""
    old = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    events: list[Emit] = liquidate_now_events(previous or {}, status)
    for cond in status["conditions"]:
        before = old.get(cond["type"], {})
        changed = before.get("status") != cond["status"]
        if cond["type"] in ("Degraded", "Ready"):
            changed = changed or before.get("reason") != cond["reason"]
        if not changed:
            continue
        kind, ok = cond["type"], cond["status"] == "True"
        if kind == "Degraded" and ok:
            events.append(Emit("Warning", cond["reason"], cond["message"]))
        elif kind == "Degraded" and before:
            events.append(Emit("Normal", "Recovered", "no longer degraded"))
        elif kind == "Ready" and ok:
            events.append(Emit("Normal", "WorkerReady", cond["message"]))
        elif kind == "Ready" and before.get("status") == "True":
            events.append(Emit("Warning", cond["reason"], cond["message"]))
        elif kind == "RestartPending" and ok:
            events.append(Emit("Normal", "RestartPending", cond["message"]))
        elif kind == "Liquidated" and ok:
            events.append(Emit("Normal", "Liquidated", cond["message"]))
    return events
