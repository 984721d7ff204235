"""Runs a LiquidationSchedule: at close - offset of each session day it orders every
covered TradingWorker to liquidate through Postgres (worker_controls), optionally has the
orphans sold, and after the close checks that the fleet is flat; the run is recorded in
Postgres (liquidation_runs) and the schedule's status and Events come from that record."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import structlog

from tradefleet.adapters.telemetry.metrics import OperatorMetrics
from tradefleet.operator.failure import failed_status, failure_problem
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.liquidation import Firing, decide, firing_of, next_firing
from tradefleet.operator.reconcile_span import note_outcome, reconcile_span
from tradefleet.operator.resources import (
    LiquidationScheduleSpec,
    SpecError,
    WorkerSelector,
    parse_schedule_spec,
)
from tradefleet.operator.status import iso
from tradefleet.ports.clock import Clock
from tradefleet.ports.fleet_status import FleetStatusStore
from tradefleet.ports.liquidation_runs import LiquidationRun, LiquidationRunStore
from tradefleet.ports.worker_controls import WorkerControlsStore

EventPoster = Callable[[Mapping[str, Any], str, str, str], None]


class OrphanSelling(Protocol):
    """The operator's own account access (LiquidationSchedule spec.orphans)."""

    worker_id: str                            # whose positions the adopted orphans become

    async def start(self, firing: Firing) -> None: ...

    async def connect(self) -> None: ...      # account access only, no selling

    async def account_left(self, trading_day: Any) -> dict[str, int]: ...

    async def stop(self) -> int: ...          # orphans sold


MIN_REAL_SLEEP_S = 0.05
FAILED_RETRY_S = 10.0          # real seconds until a failed look is tried again


def real_seconds(clock_seconds: float, clock: Any) -> float:
    """Real seconds to sleep for ``clock_seconds`` of the clock's time: a simulated clock
    (``speed`` clock seconds per real second) makes them shorter; the wall clock's are
    real."""
    speed = float(getattr(clock, "speed", 1.0) or 1.0)
    return max(MIN_REAL_SLEEP_S, clock_seconds / speed)


def covered(selector: WorkerSelector, workers: Iterable[Mapping[str, Any]]) -> list[str]:
    names = []
    for body in workers:
        meta = body.get("metadata") or {}
        if selector.covers(meta.get("namespace", ""), meta.get("labels") or {}):
            names.append(meta["name"])
    return sorted(set(names))


class ScheduleController:
    def __init__(self, *, kube: KubeApi, fleet: FleetStatusStore, controls: WorkerControlsStore,
                 runs: LiquidationRunStore, calendar: Any, clock: Clock,
                 post_event: EventPoster,
                 orphan_selling: Callable[[str, Any], OrphanSelling] | None = None,
                 metrics: OperatorMetrics | None = None) -> None:
        self._kube = kube
        self._fleet = fleet
        self._controls = controls
        self._runs = runs
        self._calendar = calendar
        self._clock = clock
        self._post = post_event
        self._orphan_selling = orphan_selling
        self._metrics = metrics or OperatorMetrics()
        self._sellers: dict[str, OrphanSelling] = {}
        self._written: dict[str, dict[str, Any]] = {}
        self._failing: dict[str, str] = {}          # the cause last announced
        self._log = structlog.get_logger("tradefleet.operator.schedule")

    async def tick(self, body: Mapping[str, Any], workers: Iterable[Mapping[str, Any]]) -> float:
        """One look at the schedule; returns the REAL seconds until the next one is due.

        The calendar reckons in the clock's seconds; under a simulated clock (a demo or test
        day run at N x) those are N times shorter in real time, and sleeping them as real
        seconds would sleep through the close and never fire."""
        name = (body.get("metadata") or {}).get("name", "")
        try:
            with reconcile_span("LiquidationSchedule", body):
                wake_in = await self._tick(body, workers)
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user
            await self._report_failure(body, name, exc)
            return FAILED_RETRY_S
        self._failing.pop(name, None)
        return real_seconds(wake_in, self._clock)

    async def _report_failure(self, body: Mapping[str, Any], name: str,
                              exc: Exception) -> None:
        """As for a TradingWorker (operator/failure.py): Reconciled=False and Degraded naming
        the cause, best-effort; one Warning Event per cause; tried again in 10 s (a run
        already recorded in Postgres is never fired twice)."""
        problem = failure_problem(exc)
        self._log.warning("schedule look failed", schedule=name, reason=problem.reason,
                          message=problem.message, error=type(exc).__name__)
        previous = self._written.get(name) or dict(body.get("status") or {})
        generation = int((body.get("metadata") or {}).get("generation") or 0)
        failed = failed_status(previous, problem, self._clock.now(), generation,
                               FAILED_RETRY_S)
        status = {"conditions": failed["conditions"]}
        try:
            await self._kube.patch_schedule_status(name, status)
            self._written[name] = {**previous, **status}
        except Exception as patch_exc:  # noqa: BLE001 - the Event below still goes out
            self._log.warning("failure not written to status", schedule=name,
                              error=f"{type(patch_exc).__name__}: {str(patch_exc)[:300]}")
        if self._failing.get(name) != problem.reason:
            self._post(body, "Warning", problem.reason, problem.message)
            self._failing[name] = problem.reason

    async def _tick(self, body: Mapping[str, Any], workers: Iterable[Mapping[str, Any]]
                    ) -> float:
        name = (body.get("metadata") or {}).get("name", "")
        now = self._clock.now()
        try:
            spec = parse_schedule_spec(body.get("spec"))
        except SpecError as exc:
            await self._patch(body, {"conditions": [_cond("Scheduled", False, "InvalidSpec",
                                                          str(exc), now)]})
            note_outcome("InvalidSpec")
            return 60.0
        if spec.operator is None:
            await self._patch(body, {"conditions": [_cond(
                "Scheduled", False, "NoOwner", "spec.operator is not set: no operator runs this "
                "schedule; set it to the name of the operator (release) that should", now)]})
            note_outcome("NoOwner")
            return 300.0
        run = await self._runs.get(name, now.date())
        step = decide(spec, self._calendar, now, run)
        if step.fire is not None:
            run = await self._fire(body, name, spec, step.fire, now, workers)
        elif run is not None and run.checked_at is None:
            await self._resume_seller(body, name, spec, now)
        if step.check is not None:
            await self._check(body, name, spec, step.check, now)
        await self._patch(body, await self._status(body, name, spec, now))
        note_outcome("Fired" if step.fire is not None else
                     "Checked" if step.check is not None else "Waiting",
                     wake_in_seconds=float(step.wake_in))
        return step.wake_in

    async def _fire(self, body: Mapping[str, Any], name: str, spec: LiquidationScheduleSpec,
                    firing: Firing, now: datetime, workers: Iterable[Mapping[str, Any]]
                    ) -> LiquidationRun:
        names = covered(spec.workers, workers)
        for worker_id in names:
            await self._controls.request_liquidation(worker_id, firing.at,
                                                     f"liquidationschedule/{name}")
        run = await self._runs.record_fired(name, firing.day, firing.at, now, names)
        self._metrics.liquidation_ordered(len(names))
        self._log.info("liquidation ordered", schedule=name, workers=names,
                       liquidation_at=firing.at.isoformat())
        self._post(body, "Normal", "LiquidationOrdered",
                   f"{len(names)} TradingWorker(s) ordered to liquidate at {iso(firing.at)} "
                   f"(close {iso(firing.close)})")
        await self._start_seller(body, name, spec, firing)
        return run

    async def _start_seller(self, body: Mapping[str, Any], name: str,
                            spec: LiquidationScheduleSpec, firing: Firing) -> bool:
        if spec.orphans is None or self._orphan_selling is None:
            return False
        seller = self._orphan_selling(name, spec.orphans)
        try:
            await seller.start(firing)
        except Exception as exc:  # noqa: BLE001 - the liquidation order stands anyway
            self._log.error("orphan seller did not start", schedule=name,
                            error_type=type(exc).__name__, error=str(exc))
            self._post(body, "Warning", "OrphanSellerFailed", f"{type(exc).__name__}: {exc}")
            return False
        self._sellers[name] = seller
        return True

    async def _resume_seller(self, body: Mapping[str, Any], name: str,
                             spec: LiquidationScheduleSpec, now: datetime) -> None:
        """The seller's durable state is today's run in Postgres (fired, not checked) and
        spec.orphans: an operator that restarted before the close starts it again."""
        if name in self._sellers:
            return
        firing = firing_of(self._calendar, now.date(), spec.offset_minutes)
        if firing is None or not firing.at <= now < firing.close:
            return
        if await self._start_seller(body, name, spec, firing):
            self._post(body, "Normal", "OrphanSellerResumed", "the operator restarted after "
                       "the liquidation fired: selling orphans again until the close")

    async def _check(self, body: Mapping[str, Any], name: str, spec: LiquidationScheduleSpec,
                     firing: Firing, now: datetime) -> None:
        run = await self._runs.get(name, firing.day)
        seller = self._sellers.pop(name, None)
        if seller is None and spec.orphans is not None and self._orphan_selling is not None:
            seller = self._orphan_selling(name, spec.orphans)    # restarted after the close
            try:
                await seller.connect()
            except Exception as exc:  # noqa: BLE001 - reported as unverified, never Flat
                self._log.error("orphan seller cannot reach the account", schedule=name,
                                error_type=type(exc).__name__, error=str(exc))
                seller = None
        scope = list(run.workers if run is not None else ())      # only the schedule's own
        if seller is not None:
            scope.append(seller.worker_id)
        holdings = await self._fleet.holdings(scope)
        detail: dict[str, Any] = {"workers": {w: {"open_positions": h.open_positions,
                                                  "held_qty": h.held_qty, "locks": h.locks,
                                                  "open_orders": h.open_orders}
                                              for w, h in holdings.items()}}
        sold = 0
        if seller is not None:
            sold = await seller.stop()
            await self._runs.add_orphans_sold(name, firing.day, sold)
            detail["broker"] = await seller.account_left(firing.day)
        elif spec.orphans is not None:
            detail["unverified"] = "the broker account could not be checked for orphans"
        flat = not detail["workers"] and not detail.get("broker") and "unverified" not in detail
        await self._runs.record_check(name, firing.day, now, flat, detail)
        self._metrics.liquidation_checked(flat=flat, orphans_sold=sold)
        if flat:
            self._post(body, "Normal", "Flat", "after the close: no open position, lock or open "
                       "order in Postgres" + ("; the broker account holds none of today's "
                                              "shares" if "broker" in detail else ""))
        else:
            self._post(body, "Warning", "NotFlat", f"after the close: {_left(detail)}")

    async def _status(self, body: Mapping[str, Any], name: str, spec: LiquidationScheduleSpec,
                      now: datetime) -> dict[str, Any]:
        latest = await self._runs.latest(name)
        fired_today = latest is not None and latest.trading_day == now.date()
        upcoming = None if spec.suspend else next_firing(self._calendar, now,
                                                         spec.offset_minutes, fired_today)
        status: dict[str, Any] = {
            "observedGeneration": int((body.get("metadata") or {}).get("generation") or 0),
            "nextRun": iso(upcoming.at) if upcoming is not None else None,
        }
        if latest is not None:
            result = "Ordered" if latest.checked_at is None else \
                "Flat" if latest.flat else "NotFlat"
            status.update(lastRun=iso(latest.fired_at), lastResult=result,
                          lastTradingDay=latest.trading_day.isoformat(),
                          workersOrdered=len(latest.workers), orphansSold=latest.orphans_sold,
                          lastMessage=_message(latest, result))
        elif spec.suspend:
            status["lastResult"] = "Suspended"
        previous = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
        scheduled = _cond("Scheduled", not spec.suspend and upcoming is not None,
                          "Suspended" if spec.suspend else
                          "Scheduled" if upcoming is not None else "NoSession",
                          f"next forced liquidation {status['nextRun']}"
                          if upcoming is not None else "nothing scheduled", now)
        before = previous.get("Scheduled")
        if before is not None and before.get("status") == scheduled["status"]:
            scheduled["lastTransitionTime"] = before["lastTransitionTime"]
        status["conditions"] = [scheduled]
        return status

    async def _patch(self, body: Mapping[str, Any], status: dict[str, Any]) -> None:
        name = (body.get("metadata") or {}).get("name", "")
        previous = self._written.get(name) or dict(body.get("status") or {})
        if {k: v for k, v in status.items() if v is not None} != \
                {k: v for k, v in previous.items() if k in status}:
            await self._kube.patch_schedule_status(name, status)
            self._written[name] = {k: v for k, v in status.items() if v is not None}


def _cond(kind: str, ok: bool, reason: str, message: str, now: datetime) -> dict[str, Any]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason,
            "message": message, "lastTransitionTime": iso(now)}


def _left(detail: dict[str, Any]) -> str:
    parts = [f"{w}: {h['open_positions']} position(s), {h['locks']} lock(s), "
             f"{h['open_orders']} open order(s)" for w, h in sorted(detail["workers"].items())]
    parts += [f"broker holds {q} of {s}" for s, q in sorted((detail.get("broker") or {}).items())]
    if detail.get("unverified"):
        parts.append(detail["unverified"])
    return "; ".join(parts)


def _message(run: LiquidationRun, result: str) -> str:
    if result == "Ordered":
        return f"{len(run.workers)} worker(s) ordered to liquidate at {iso(run.run_at)}"
    if result == "Flat":
        return f"flat after the close ({run.orphans_sold} orphan(s) sold)"
    return f"not flat after the close: {_left(run.detail)}"[:4096]
