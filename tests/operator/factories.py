"""Building blocks for reconcile tests without Kubernetes: specs, observed pods and worker
rows as the real parsers and stores produce them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tradefleet.adapters.clock import SEOUL
from tradefleet.operator.config import OperatorConfig, SecretKeyRef
from tradefleet.operator.observe import PodState, pod_state
from tradefleet.operator.plan import Desired, History, Observed, Session
from tradefleet.operator.pods import build_pod
from tradefleet.operator.resources import parse_worker_spec
from tradefleet.ports.fleet_status import WorkerHoldings, WorkerState
from tradefleet.ports.worker_controls import WorkerControls

DAY = datetime(2026, 11, 24, tzinfo=SEOUL)
OPEN = DAY.replace(hour=9)
CLOSE = DAY.replace(hour=15, minute=30)
NOW = DAY.replace(hour=10, minute=30)
SESSION = Session(OPEN, CLOSE)
CONFIG = OperatorConfig(namespaces=("trading",), worker_image="tradefleet:test",
                        db_secret=SecretKeyRef("tradefleet-db", "dsn"))
SPEC: dict[str, Any] = {"mode": "sim", "broker": {"baseUrl": "http://exchange:8700"},
                        "capitalLimit": 5_000_000, "dailyLossLimit": 1_000_000,
                        "universe": ["005930", "000660"]}


def desired(spec: dict[str, Any] | None = None, **changes: Any) -> Desired:
    base = Desired(name="w-1", namespace="trading", uid="uid-1", generation=1,
                   spec=parse_worker_spec(spec or SPEC))
    return replace(base, **changes)


def worker(status: str | None = "SCAN", *, epoch: int = 1, live: bool = True,
           holdings: WorkerHoldings | None = None, controls: WorkerControls | None = None,
           **changes: Any) -> WorkerState:
    if status is None:
        return WorkerState("w-1", registered=False, controls=controls or WorkerControls())
    return WorkerState("w-1", registered=True, status=status, epoch=epoch, live=live,
                       heartbeat_at=NOW - timedelta(seconds=2 if live else 300),
                       heartbeat_age_seconds=2.0 if live else 300.0, lock_ttl_seconds=30,
                       holdings=holdings or WorkerHoldings(),
                       controls=controls or WorkerControls(), **changes)


def pod(want: Desired, *, epoch_before: int = 0, phase: str = "Running", ready: bool = True,
        deleting: bool = False, status: dict | None = None, serial: int = 0,
        spec: dict | None = None) -> PodState:
    """A pod as the operator made it (same manifest), with the kubelet's status."""
    manifest = build_pod(name=want.name, namespace=want.namespace, uid=want.uid,
                         spec=parse_worker_spec(spec) if spec else want.spec, config=CONFIG,
                         epoch_before=epoch_before, serial=serial)
    manifest["status"] = status or {
        "phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}]}
    if deleting:
        manifest["metadata"]["deletionTimestamp"] = "2026-11-24T01:30:00Z"
    return pod_state(manifest)


def observed(w: WorkerState, pods: tuple[PodState, ...] = (), *, now: datetime = NOW,
             session: Session | None = SESSION, history: History | None = None) -> Observed:
    return Observed(pods=pods, worker=w, now=now, session=session,
                    history=history or History())
