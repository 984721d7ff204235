"""Runs reconcile passes of TradingWorkers: observes (pods as watched, the worker through
Postgres), plans (reconcile.plan_worker, a plain function) and carries the plan out.
One pass at a time per TradingWorker, whichever trigger asked for it.

A pass over an unchanged world costs the API server nothing: pods come from the watch
(``cached_pods``), Secrets are checked again only when one changed (``SecretChecks``), and
status is patched only when a field a user reads changed (status.py keeps lastHeartbeat
still while Ready). Pods are listed from the API only to confirm a plan that would create
or delete one, so that a watch a moment behind never starts a second pod."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from tradefleet.adapters.telemetry.metrics import OperatorMetrics
from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.failure import (
    ActionFailed,
    ReconcileFailed,
    failed_status,
    failure_problem,
)
from tradefleet.operator.kube import KubeApi, KubeError
from tradefleet.operator.observe import pod_state
from tradefleet.operator.param_version_check import ParamVersionChecks
from tradefleet.operator.plan import (
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
    Session,
    WriteControls,
)
from tradefleet.operator.preflight import check_strategy, check_worker_id
from tradefleet.operator.reconcile import plan_worker
from tradefleet.operator.reconcile_span import note_outcome, reconcile_span
from tradefleet.operator.resources import (
    SpecError,
    liquidate_now_as_written,
    parse_worker_spec,
    paused_as_written,
)
from tradefleet.operator.rollout import RestartGate
from tradefleet.operator.secret_checks import SecretChecks
from tradefleet.operator.status import (
    build_status,
    history_of,
    transition_events,
    without_nones,
)
from tradefleet.ports.clock import Clock
from tradefleet.ports.fleet_status import FleetStatusStore
from tradefleet.ports.worker_controls import WorkerControlsStore
from tradefleet.services.lock_service import LockService

POD_STARTED = ("PodCreated", "PodRecreated")


def refused_plan(plan: Plan, problem: Problem) -> Plan:
    """The pass's plan once the API refused its pod: nothing was created (so no pod name or
    backoff enters the status), the worker is Degraded with the API's own words, which
    the Degraded transition posts as a Warning Event; the next pass tries again."""
    kept = tuple(a for a in plan.actions if not isinstance(a, CreatePod)
                 and not (isinstance(a, Emit) and a.reason in POD_STARTED))
    return dataclasses.replace(plan, phase="Degraded", note=problem.message, actions=kept,
                               degraded=problem,
                               ready_reason=problem.reason, retry_in=10.0)


def _doing(action: Any) -> str:
    """What a failed action was doing, in a user's words."""
    if isinstance(action, CreatePod):
        return f"creating pod {action.manifest['metadata']['name']}"
    if isinstance(action, DeletePod):
        return f"deleting pod {action.name} ({action.reason})"
    if isinstance(action, WriteControls | ClearControls):
        return "writing the worker's controls to Postgres"
    if isinstance(action, Reclaim):
        return "reclaiming a stale worker's locks in Postgres"
    return f"carrying out {type(action).__name__}"


# (body, type, reason, message): kopf.event in the operator
EventPoster = Callable[[Mapping[str, Any], str, str, str], None]
Calendar = Any          # domain.calendar.KrxCalendar: session(day)
# (namespace, worker) -> its pods as watched; None: not known, list them
CachedPods = Callable[[str, str], list[dict[str, Any]] | None]


class WorkerController:
    def __init__(self, *, kube: KubeApi, fleet: FleetStatusStore,
                 controls: WorkerControlsStore, locks: LockService, calendar: Calendar,
                 clock: Clock, config: OperatorConfig, post_event: EventPoster,
                 metrics: OperatorMetrics | None = None, cached_pods: CachedPods | None = None,
                 secret_checks: SecretChecks | None = None,
                 param_versions: ParamVersionChecks | None = None) -> None:
        self._kube = kube
        self._param_versions = param_versions
        self._cached_pods = cached_pods
        self._secret_checks = secret_checks or SecretChecks(kube.read_secret, config)
        self._fleet = fleet
        self._controls = controls
        self._locks = locks
        self._calendar = calendar
        self._clock = clock
        self._config = config
        self._post = post_event
        self._metrics = metrics or OperatorMetrics()
        self._busy: dict[tuple[str, str], asyncio.Lock] = {}
        self._written: dict[tuple[str, str], dict[str, Any]] = {}
        self._deleting_since: dict[tuple[str, str], datetime] = {}
        self._failing: dict[tuple[str, str], str] = {}     # the cause last announced
        self._restarts = RestartGate(config.max_concurrent_restarts)
        self._log = structlog.get_logger("tradefleet.operator")

    def forget(self, namespace: str, name: str) -> None:
        self._busy.pop((namespace, name), None)
        self._written.pop((namespace, name), None)
        self._deleting_since.pop((namespace, name), None)
        self._failing.pop((namespace, name), None)
        self._restarts.forget((namespace, name))
        self._secret_checks.forget((namespace, name))

    async def reconcile(self, body: Mapping[str, Any],
                        peers: list[Mapping[str, Any]] | None = None) -> Plan:
        """One pass; ``peers``: TradingWorkers of the same name in other namespaces. A pass
        that fails is reported (``_report_failure``) and raised as ReconcileFailed."""
        meta = body.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        lock = self._busy.setdefault(key, asyncio.Lock())
        async with lock:
            started, outcome = time.perf_counter(), "error"
            try:
                with reconcile_span("TradingWorker", body):
                    try:
                        plan = await self._pass(body, key, peers or [])
                    except Exception as exc:  # noqa: BLE001 - every failure reaches the user
                        raise await self._report_failure(body, key, exc) from exc
                    note_outcome(plan.phase, actions=[type(a).__name__ for a in plan.actions])
                self._failing.pop(key, None)
                outcome = "degraded" if plan.phase == "Degraded" or plan.degraded else "ok"
                return plan
            finally:
                self._metrics.reconciled(outcome, time.perf_counter() - started)

    async def _desired(self, body: Mapping[str, Any], now: datetime,
                       peers: list[Mapping[str, Any]]) -> Desired:
        meta = body.get("metadata") or {}
        spec, problems = None, []
        try:
            spec = parse_worker_spec(body.get("spec"))
        except SpecError as exc:
            problems = [Problem("InvalidSpec", p) for p in exc.problems]
        deleting = bool(meta.get("deletionTimestamp"))
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if deleting:       # timed by the operator's clock, from when it first saw it
            self._deleting_since.setdefault(key, now)
        if spec is not None and not deleting:
            problems += check_strategy(spec) + await self._secret_checks.problems(
                key, spec, meta.get("namespace", ""))
            if self._param_versions is not None:    # a pod for a version there is not yet
                problems += await self._param_versions.problems(spec)
        if not deleting:
            problems = check_worker_id(body, peers) + problems
        return Desired(name=meta.get("name", ""), namespace=meta.get("namespace", ""),
                       uid=meta.get("uid", ""), generation=int(meta.get("generation") or 0),
                       spec=spec, problems=tuple(problems), deleting=deleting,
                       deletion_started=self._deleting_since.get(key),
                       paused=paused_as_written(body.get("spec")),
                       liquidate_now=liquidate_now_as_written(body.get("spec")))

    def _session(self, now: datetime) -> Session | None:
        session = self._calendar.session(now.date())
        return None if session is None else Session(session.open, session.close)

    async def _pass(self, body: Mapping[str, Any], key: tuple[str, str],
                    peers: list[Mapping[str, Any]]) -> Plan:
        now = self._clock.now()
        desired = await self._desired(body, now, peers)
        previous = self._written.get(key) or dict(body.get("status") or {})
        pods = self._cached_pods(*key) if self._cached_pods is not None else None
        listed = pods is None
        if listed:
            pods = await self._kube.list_pods(desired.namespace, desired.name)
        worker = await self._fleet.worker_state(desired.name, now.date())
        observed = Observed(pods=tuple(pod_state(p) for p in pods), worker=worker, now=now,
                            session=self._session(now), history=history_of(previous),
                            restart_hold=self._restarts.hold_for(key))
        plan = plan_worker(desired, observed, self._config)
        if not listed and any(isinstance(a, CreatePod | DeletePod) for a in plan.actions):
            pods = await self._kube.list_pods(desired.namespace, desired.name)
            observed = dataclasses.replace(observed, pods=tuple(pod_state(p) for p in pods),
                                           restart_hold=self._restarts.hold_for(key))
            plan = plan_worker(desired, observed, self._config)
        self._restarts.passed(key, observed, plan)      # no await since hold_for: atomic
        refused = await self._carry_out(body, desired, plan)
        if refused is not None:
            plan = refused_plan(plan, refused)
        status = build_status(desired, observed, plan, previous,
                              heartbeat_every=self._config.heartbeat_status_seconds)
        if without_nones(status) != {k: v for k, v in previous.items() if k in status}:
            if not any(isinstance(a, Finalize) for a in plan.actions):
                await self._kube.patch_worker_status(desired.namespace, desired.name, status)
            self._written[key] = without_nones(status)
        for event in transition_events(previous, status):
            self._post(body, event.type, event.reason, event.message)
        return plan

    async def _carry_out(self, body: Mapping[str, Any], desired: Desired,
                         plan: Plan) -> Problem | None:
        """Carries the plan out; a pod the API refuses (a ResourceQuota, a LimitRange,
        admission, RBAC) is returned as the Problem that status and an Event must name."""
        ns, name = desired.namespace, desired.name
        refused: Problem | None = None
        for action in plan.actions:
            try:
                refused = await self._carry_out_one(body, ns, name, action, refused)
            except Exception as exc:  # noqa: BLE001 - named by failure_problem
                raise ActionFailed(_doing(action), exc) from exc
        return refused

    async def _carry_out_one(self, body: Mapping[str, Any], ns: str, name: str,
                             action: Any, refused: Problem | None) -> Problem | None:
        if isinstance(action, WriteControls):
            if action.paused is not None:
                await self._controls.set_paused(name, action.paused)
            if action.liquidate_at is not None:
                await self._controls.request_liquidation(
                    name, action.liquidate_at,
                    action.liquidate_by or f"{self._config.identity}/delete")
        elif isinstance(action, ClearControls):
            await self._controls.clear(name)
        elif isinstance(action, Reclaim):
            await self._reclaim(body, name)
        elif isinstance(action, CreatePod):
            refused = await self._create_pod(ns, name, action) or refused
        elif isinstance(action, DeletePod):
            await self._kube.delete_pod(ns, action.name, action.grace_seconds)
            self._metrics.pod_deleted(action.reason)
            self._log.info("pod deleted", worker_id=name, pod=action.name,
                           reason=action.reason, grace_seconds=action.grace_seconds)
            if action.reason not in ("SpecChanged", "Deleting"):
                self._post(body, "Warning" if action.grace_seconds == 0 else "Normal",
                           "PodDeleted", f"pod {action.name} deleted: {action.reason}")
        elif isinstance(action, Emit):
            if refused is None or action.reason not in POD_STARTED:
                self._post(body, action.type, action.reason, action.message)
        return refused

    async def _report_failure(self, body: Mapping[str, Any], key: tuple[str, str],
                              exc: Exception) -> ReconcileFailed:
        """Status (best-effort: the API may be what failed) and, once per cause, a Warning
        Event naming the cause; the caller retries at the resync interval."""
        problem = failure_problem(exc)
        retry_in = self._config.resync_seconds
        ns, name = key
        self._log.warning("reconcile failed", worker_id=name, namespace=ns,
                          reason=problem.reason, message=problem.message,
                          error=type(exc).__name__)
        previous = self._written.get(key) or dict(body.get("status") or {})
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        status = failed_status(previous, problem, self._clock.now(), generation, retry_in)
        try:
            await self._kube.patch_worker_status(ns, name, status)
            self._written[key] = {**previous, **status}
        except Exception as patch_exc:  # noqa: BLE001 - the Event below still goes out
            self._log.warning("failure not written to status", worker_id=name, namespace=ns,
                              reason=problem.reason, error=f"{type(patch_exc).__name__}: "
                              f"{str(patch_exc)[:300]}")
        if self._failing.get(key) != problem.reason:
            self._post(body, "Warning", problem.reason, problem.message)
            self._failing[key] = problem.reason
        return ReconcileFailed(problem, retry_in)

    async def _create_pod(self, ns: str, name: str, action: CreatePod) -> Problem | None:
        pod = action.manifest["metadata"]["name"]
        try:
            created = await self._kube.create_pod(ns, action.manifest)
        except KubeError as exc:
            if exc.status not in (400, 403, 422):
                raise
            self._log.warning("pod refused", worker_id=name, pod=pod, status=exc.status,
                              message=exc.message)
            return Problem("PodRefused", f"the API refused pod {pod}: {exc.message}")
        if created:
            self._metrics.pod_created(recreation=action.recreation)
        self._log.info("pod created" if created else "pod exists already",
                       worker_id=name, pod=pod, recreation=action.recreation)
        return None

    async def _reclaim(self, body: Mapping[str, Any], name: str) -> None:
        reclaimed = await self._locks.reclaim_expired()
        self._metrics.reclaimed(reclaimed)
        self._log.warning("stale workers reclaimed", reclaimed=reclaimed, for_worker=name)
        if name in reclaimed:
            self._post(body, "Warning", "HeartbeatStale", "heartbeat in Postgres older than its "
                       "TTL: locks reclaimed through the fence and the worker marked EXIT")
