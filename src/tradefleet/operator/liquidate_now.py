"""``spec.liquidateNow``: a person's on-demand liquidation of one worker (the console patches
it under Kubernetes), turned by the reconcile pass into the same ``worker_controls``
liquidation request the schedule and a deletion write, so the operator stays the one writer.

A request counts for the trading day of its ``requestedAt`` (Asia/Seoul) only: yesterday's
request left in the spec is ignored and said so (status ``liquidateNow``, an Event), never
carried into a new day. A request already in Postgres at or before ``requestedAt`` is not
written again, so a repeated pass writes nothing and announces nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tradefleet.domain.calendar import SEOUL
from tradefleet.operator.plan import Action, Emit, Observed, WriteControls
from tradefleet.operator.resources import LiquidateNow, TradingWorkerSpec

ORDERED = "Ordered"
IGNORED = "Ignored"


def _day(at: datetime) -> date:
    return at.astimezone(SEOUL).date()


def _is_today(request: LiquidateNow, observed: Observed) -> bool:
    return _day(request.requested_at) == _day(observed.now)


def _who(request: LiquidateNow) -> str:
    return request.by + (f" ({request.reason})" if request.reason else "")


def liquidate_now_actions(spec: TradingWorkerSpec, observed: Observed,
                          identity: str) -> list[Action]:
    """The write and its Event, when today's request is not in Postgres yet (or the row
    holds a later time of the day: an earlier one wins, as in the store)."""
    request = spec.liquidate_now
    if request is None or not _is_today(request, observed):
        return []
    at = request.requested_at.astimezone(SEOUL)
    ordered = observed.worker.controls.liquidate_from(_day(observed.now))
    if ordered is not None and ordered <= at:
        return []
    by = f"{identity}/liquidateNow/{request.by}"[:200]
    return [WriteControls(liquidate_at=at, liquidate_by=by),
            Emit("Normal", "LiquidationOrdered",
                 f"liquidation ordered from {at.isoformat(timespec='seconds')} by "
                 f"{_who(request)} (spec.liquidateNow)")]


def liquidate_now_status(spec: TradingWorkerSpec | None,
                         observed: Observed) -> dict[str, Any] | None:
    """What became of spec.liquidateNow (None: no request). Derived from the spec and the
    day alone, so it does not move between passes."""
    request = spec.liquidate_now if spec is not None else None
    if request is None:
        return None
    at = request.requested_at.astimezone(SEOUL).isoformat(timespec="seconds")
    if _is_today(request, observed):
        return {"requestedAt": at, "by": request.by, "outcome": ORDERED,
                "message": f"liquidation ordered in Postgres from {at}"}
    return {"requestedAt": at, "by": request.by, "outcome": IGNORED,
            "message": f"requestedAt {at} is not today's trading day "
                       f"({_day(observed.now).isoformat()}): ignored, nothing written"}


def liquidate_now_events(previous: dict[str, Any], status: dict[str, Any]) -> list[Emit]:
    """A Warning once when a request is (newly) ignored."""
    now = status.get("liquidateNow") or {}
    before = previous.get("liquidateNow") or {}
    if now.get("outcome") == IGNORED and (before.get("outcome") != IGNORED
                                          or before.get("requestedAt") != now["requestedAt"]):
        return [Emit("Warning", "LiquidationRequestIgnored", f"spec.liquidateNow: "
                     f"{now['message']}")]
    return []
