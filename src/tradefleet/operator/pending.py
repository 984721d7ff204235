"""A worker pod that does not start: stuck Pending on an image it cannot pull, a config it
cannot create (a missing Secret key), or a scheduler that finds no node. Until its worker
registers, nothing trades, so the operator only reports: at once a Degraded condition and a
Warning Event naming the kubelet's or the scheduler's own words, and after
``pod_pending_timeout_seconds`` the phase Degraded (never Starting forever). The pod is kept:
once the cause is fixed (the image pushed, a node added) it starts by itself, and a spec
change (a fixed image) replaces it as usual."""

from __future__ import annotations

from datetime import datetime

from tradefleet.operator.observe import PodState
from tradefleet.operator.plan import History, Problem

PENDING = "PodPending"
TIMED_OUT = "PodPendingTimeout"
NOT_REGISTERED = "WorkerNotRegistered"
# the kubelet alternates between these two while it backs off: one cause, one Event
SAME_CAUSE = {"ErrImagePull": "ImagePullBackOff"}


def pending_cause(pod: PodState) -> tuple[str, str] | None:
    """(cause, the words naming it) of a Pending pod that cannot start by itself, or None
    while it is merely on its way (scheduled, pulling, creating)."""
    if pod.phase != "Pending":
        return None
    if pod.unschedulable is not None:
        return "Unschedulable", pod.unschedulable
    if pod.hint and pod.hint != "CrashLoopBackOff":
        cause = SAME_CAUSE.get(pod.hint, pod.hint)
        return cause, f"{pod.hint}: {pod.detail}" if pod.detail else pod.hint
    return None


def pending_since(pod: PodState, history: History) -> datetime | None:
    """When the pod was made: by the operator's clock if it made it, else the API's."""
    if history.pod_name == pod.name and history.last_pod_created is not None:
        return history.last_pod_created
    return pod.created


def pending_problem(pod: PodState, history: History, now: datetime,
                    timeout_s: float) -> tuple[Problem | None, bool]:
    """The Degraded problem of a pod not yet running its worker, and whether it has been
    Pending (or running without its worker ever registering) past the timeout.
    (None, False): nothing to report."""
    since = pending_since(pod, history)
    timed_out = since is not None and (now - since).total_seconds() >= timeout_s
    if pod.phase != "Pending":
        if not timed_out:
            return None, False
        how = f" ({pod.hint})" if pod.hint else ""
        return Problem(NOT_REGISTERED, f"pod {pod.name} {pod.phase}{how} since "
                       f"{since.isoformat(timespec='seconds')}, but its worker has not "
                       f"registered in Postgres within the {timeout_s:.0f}s limit: see "
                       f"kubectl logs {pod.name}"), True
    found = pending_cause(pod)
    at = f" since {since.isoformat(timespec='seconds')}" if since is not None else ""
    if found is None and not timed_out:
        return None, False
    if found is None:
        waiting = pod.waiting or "Pending"
        return Problem(TIMED_OUT, f"pod {pod.name} Pending{at}, past the "
                       f"{timeout_s:.0f}s limit ({waiting}): see kubectl describe pod "
                       f"{pod.name}"), True
    cause, words = found
    if timed_out:
        return Problem(f"{TIMED_OUT}:{cause}", f"pod {pod.name} Pending{at}, past the "
                       f"{timeout_s:.0f}s limit: {words}"), True
    return Problem(f"{PENDING}:{cause}", f"pod {pod.name} cannot start{at}: {words}"), False


def is_pending_problem(problem: Problem | None) -> bool:
    """A new pod that does not come up (a rollout stops there rather than move on)."""
    return problem is not None and (problem.reason.startswith(PENDING)
                                    or problem.reason == NOT_REGISTERED)
