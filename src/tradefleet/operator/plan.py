"""The vocabulary of a reconcile pass: what is desired, what was observed, and the actions
and status facts a pass decides on. Plain data; the deciding is in reconcile.py and
deletion.py, the doing in the handlers' executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.observe import PodState
from tradefleet.operator.pods import build_pod
from tradefleet.operator.resources import LiquidateNow, TradingWorkerSpec
from tradefleet.ports.fleet_status import WorkerState


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the operator cannot run a TradingWorker (or is stuck): a CamelCase reason for the
    Degraded condition and a message naming the field."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RestartHold:
    """Why a worker whose pod spec changed keeps its running pod for now (the paced restart):
    the reason of the RestartPending condition and a message saying what it waits for."""

    reason: str          # WaitingForRestartSlot / OutsideTradingHoursOnly
    message: str


@dataclass(frozen=True, slots=True)
class Session:
    open: datetime
    close: datetime


@dataclass(frozen=True, slots=True)
class History:
    """The operator's own bookkeeping, kept in the resource's status (nothing trading-critical:
    losing it only resets the recreation backoff)."""

    pod_name: str | None = None
    pod_spec_hash: str | None = None
    last_pod_created: datetime | None = None
    recreations: int = 0


@dataclass(frozen=True)
class Desired:
    name: str
    namespace: str
    uid: str
    generation: int
    spec: TradingWorkerSpec | None
    problems: tuple[Problem, ...] = ()
    deleting: bool = False
    deletion_started: datetime | None = None
    # spec.paused as written, read even when the rest of the spec is invalid (None: absent
    # or not a boolean), so that a pause reaches a Degraded worker's running pod
    paused: bool | None = None
    # spec.liquidateNow as written, read on its own for the same reason (None: absent/invalid)
    liquidate_now: LiquidateNow | None = None

    @property
    def pause_asked(self) -> bool:
        return self.spec.paused if self.spec is not None else self.paused is True


@dataclass(frozen=True)
class Observed:
    pods: tuple[PodState, ...]
    worker: WorkerState
    now: datetime
    session: Session | None
    history: History = History()
    # the fleet's restart pacing (rollout.RestartGate): None when this worker may replace
    # its pod now, else what it waits for
    restart_hold: RestartHold | None = None

    def in_session_window(self, pre_open: timedelta) -> bool:
        """Pods are started only from shortly before the open until the close."""
        s = self.session
        return s is not None and s.open - pre_open <= self.now < s.close


# ---- actions --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WriteControls:
    paused: bool | None = None
    liquidate_at: datetime | None = None
    liquidate_by: str | None = None      # None: the operator's deletion


@dataclass(frozen=True, slots=True)
class ClearControls:
    pass


@dataclass(frozen=True, slots=True)
class Reclaim:
    """The fenced reclaim of every worker stale past its TTL (LockService.reclaim_expired)."""


@dataclass(frozen=True)
class CreatePod:
    manifest: dict[str, Any]
    recreation: bool = False


@dataclass(frozen=True, slots=True)
class DeletePod:
    name: str
    grace_seconds: int | None        # None: the pod's own grace (SIGTERM, then the grace)
    reason: str


@dataclass(frozen=True, slots=True)
class Emit:
    type: str                        # Normal / Warning
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Finalize:
    """Deletion may complete: the finalizer can go."""


Action = WriteControls | ClearControls | Reclaim | CreatePod | DeletePod | Emit | Finalize


@dataclass(frozen=True)
class Plan:
    phase: str
    note: str = ""
    actions: tuple[Action, ...] = field(default_factory=tuple)
    degraded: Problem | None = None      # operator-side trouble: stuck deletion, backoff
    ready_reason: str | None = None      # why not Ready, when the pod alone does not say
    retry_in: float | None = None        # look again this soon (seconds)
    restart_pending: RestartHold | None = None   # the pod spec changed; the restart waits
    restarting: bool = False             # this pass starts replacing a running pod


def manifest_for(desired: Desired, observed: Observed, config: OperatorConfig) -> dict[str, Any]:
    """The pod to start now: made with the worker row's current epoch (its process will
    register a higher one) and the recreation count (a fresh name per attempt)."""
    assert desired.spec is not None
    return build_pod(name=desired.name, namespace=desired.namespace, uid=desired.uid,
                     spec=desired.spec, config=config, epoch_before=observed.worker.epoch,
                     serial=observed.history.recreations)
