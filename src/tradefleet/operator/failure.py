"""A reconcile pass that fails (the Kubernetes API answers an error or cannot be reached,
Postgres is down, an action raises) must reach the user, not only the operator's log: the
TradingWorker gets ``Reconciled=False`` and ``Degraded=True`` naming the cause, phase
Degraded, and a Warning Event with the same reason, and the pass is retried at the resync
interval. Only conditions, phase and message are written: whatever the failed pass may have
done is left for the next pass to observe, never claimed (a pod it created is found by the
next pass's listing; a pod name it would have recorded is not recorded).

Kept free of kopf: handlers.py turns ``ReconcileFailed`` into kopf's retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp
import asyncpg

from tradefleet.operator.kube import KubeError
from tradefleet.operator.plan import Problem

RECONCILED = "Reconciled"
# asyncpg's errors that mean "no usable connection" rather than "a statement failed"
_DB_DOWN = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
            asyncpg.AdminShutdownError, asyncpg.CrashShutdownError)


class ActionFailed(RuntimeError):
    """An action of the pass raised: what it was doing, and why."""

    def __init__(self, doing: str, cause: BaseException) -> None:
        super().__init__(f"{doing}: {cause}")
        self.doing = doing
        self.cause = cause


class ReconcileFailed(RuntimeError):
    """A pass failed and was reported (status best-effort, Event); retry in ``retry_in``."""

    def __init__(self, problem: Problem, retry_in: float) -> None:
        super().__init__(f"{problem.reason}: {problem.message}")
        self.problem = problem
        self.retry_in = retry_in


def failure_problem(exc: BaseException) -> Problem:
    """The cause of a failed pass, as a Degraded reason and a message a user can act on."""
    doing = ""
    if isinstance(exc, ActionFailed):
        doing, exc = f"while {exc.doing}: ", exc.cause
    if isinstance(exc, KubeError):
        reason = "ApiForbidden" if exc.status in (401, 403) else "ApiError"
        what = f" {exc.reason}" if exc.reason else ""
        return Problem(reason, f"{doing}the Kubernetes API answered {exc.status}{what}: "
                       f"{exc.message}"[:1024])
    if isinstance(exc, aiohttp.ClientError):
        return Problem("ApiUnreachable", f"{doing}the Kubernetes API could not be reached: "
                       f"{_words(exc)}"[:1024])
    if isinstance(exc, (*_DB_DOWN, OSError, TimeoutError)):
        return Problem("DatabaseUnavailable", f"{doing}Postgres (the fleet's source of truth) "
                       f"is unavailable: {_words(exc)}"[:1024])
    if isinstance(exc, asyncpg.PostgresError):
        return Problem("DatabaseError", f"{doing}a Postgres statement failed: "
                       f"{_words(exc)}"[:1024])
    return Problem("ReconcileError", f"{doing}{_words(exc)}"[:1024])


def _words(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failed_status(previous: dict[str, Any], problem: Problem, now: datetime,
                  generation: int, retry_in: float) -> dict[str, Any]:
    """The status patch of a failed pass: phase, message, and the Reconciled and Degraded
    conditions; every other condition and field stays as the last good pass wrote it."""
    stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    new = {RECONCILED: ("False", problem.reason, problem.message),
           "Degraded": ("True", problem.reason, problem.message)}
    conditions = []
    for kind in dict.fromkeys([*old, *new]):
        if kind not in new:
            conditions.append(old[kind])
            continue
        status, reason, message = new[kind]
        before = old.get(kind) or {}
        conditions.append({"type": kind, "status": status, "reason": reason,
                           "message": message, "observedGeneration": generation,
                           "lastTransitionTime": before.get("lastTransitionTime", stamp)
                           if before.get("status") == status else stamp})
    return {"phase": "Degraded", "conditions": conditions,
            "message": f"reconcile failed ({problem.reason}), retrying every "
                       f"{retry_in:g}s: {problem.message}"[:4096]}
