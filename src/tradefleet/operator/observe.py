"""What a pod says about its worker, reduced to what the reconcile decides on. These are
hints (a partitioned node's pod can look dead while its process still trades); whether a
worker is alive is decided by its Postgres heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradefleet.operator.pods import CONTAINER, EPOCH_BEFORE, SPEC_HASH

WAITING_HINTS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
                 "CreateContainerConfigError", "CreateContainerError", "InvalidImageName",
                 "ErrImageNeverPull")


@dataclass(frozen=True, slots=True)
class PodState:
    name: str
    phase: str                    # Pending / Running / Succeeded / Failed / Unknown
    ready: bool
    deleting: bool
    spec_hash: str | None
    epoch_before: int
    restarts: int = 0
    hint: str | None = None       # Evicted, OOMKilled, Error, CrashLoopBackOff, ...
    detail: str | None = None
    exit_code: int | None = None
    waiting: str | None = None          # the container's waiting reason, whatever it is
    unschedulable: str | None = None    # the scheduler's message (PodScheduled=False)
    created: datetime | None = None     # metadata.creationTimestamp

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _container_status(status: dict[str, Any]) -> dict[str, Any]:
    for cs in status.get("containerStatuses") or []:
        if cs.get("name") == CONTAINER:
            return cs
    return {}


def _hint(status: dict[str, Any], cs: dict[str, Any]) -> tuple[str | None, str | None,
                                                               int | None]:
    if status.get("reason"):                                   # Evicted, NodeLost, ...
        return status["reason"], status.get("message"), None
    state = cs.get("state") or {}
    waiting = state.get("waiting") or {}
    if waiting.get("reason") in WAITING_HINTS:
        return waiting["reason"], waiting.get("message"), None
    terminated = state.get("terminated") or (cs.get("lastState") or {}).get("terminated")
    if terminated:
        code = terminated.get("exitCode")
        reason = terminated.get("reason") or "Error"
        if reason == "Completed" and status.get("phase") != "Succeeded":
            reason = "Error"
        return reason, terminated.get("message") or f"exit code {code}", code
    return None, None, None


def _unschedulable(status: dict[str, Any]) -> str | None:
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False" \
                and c.get("reason") == "Unschedulable":
            return c.get("message") or "no node fits the pod"
    return None


def _created(meta: dict[str, Any]) -> datetime | None:
    raw = meta.get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


def pod_state(pod: dict[str, Any]) -> PodState:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    cs = _container_status(status)
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or [])
    hint, detail, code = _hint(status, cs)
    annotations = meta.get("annotations") or {}
    try:
        epoch_before = int(annotations.get(EPOCH_BEFORE, "0"))
    except ValueError:
        epoch_before = 0
    return PodState(
        name=meta.get("name", ""), phase=status.get("phase") or "Pending", ready=ready,
        deleting=bool(meta.get("deletionTimestamp")), spec_hash=annotations.get(SPEC_HASH),
        epoch_before=epoch_before, restarts=int(cs.get("restartCount") or 0), hint=hint,
        detail=detail, exit_code=code,
        waiting=((cs.get("state") or {}).get("waiting") or {}).get("reason"),
        unschedulable=_unschedulable(status), created=_created(meta))
