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
from tradefleet.operator.plan import Action, Desired, Emit, Observed, Plan, WriteControls
from tradefleet.operator.resources import LiquidateNow

ORDERED = "Ordered"
IGNORED = "Ignored"
NOT_WRITTEN = "NotWritten"


def _day(at: datetime) -> date:
    return at.astimezone(SEOUL).date()


def _is_today(request: LiquidateNow, observed: Observed) -> bool:
    return _day(request.requested_at) == _day(observed.now)


def _who(request: LiquidateNow) -> str:
    return request.by + (f" ({request.reason})" if request.reason else "")


def liquidate_now_actions(request: LiquidateNow | None, observed: Observed,
                          identity: str) -> list[Action]:
    """The write and its Event, when today's request is not in Postgres yet (or the row
    holds a later time of the day: an earlier one wins, as in the store)."""
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


def liquidate_now_status(desired: Desired, observed: Observed,
                         plan: Plan) -> dict[str, Any] | None:
    """What became of spec.liquidateNow (None: no valid request, or the worker is being
    deleted, which orders its own liquidation). It moves only when the request, the day or
    the row does, so it costs no status writes between passes."""
    request = desired.spec.liquidate_now if desired.spec is not None else desired.liquidate_now
    if request is None or desired.deleting:
        return None
    at = request.requested_at.astimezone(SEOUL)
    shown = {"requestedAt": at.isoformat(timespec="seconds"), "by": request.by}
    if not _is_today(request, observed):
        return {**shown, "outcome": IGNORED,
                "message": f"requestedAt {shown['requestedAt']} is not today's trading day "
                           f"({_day(observed.now).isoformat()}): ignored, nothing written"}
    ordered = observed.worker.controls.liquidate_from(_day(observed.now))
    writes = any(isinstance(a, WriteControls) and a.liquidate_at is not None
                 for a in plan.actions)
    if writes or (ordered is not None and ordered <= at):
        since = at if writes or ordered is None else ordered
        return {**shown, "outcome": ORDERED, "message": "liquidation ordered in Postgres from "
                f"{since.isoformat(timespec='seconds')}"}
    return {**shown, "outcome": NOT_WRITTEN, "message": "not written: the spec is Degraded "
            "and no process of this worker runs"}


def liquidate_now_events(previous: dict[str, Any], status: dict[str, Any]) -> list[Emit]:
    """A Warning once when a request is (newly) ignored."""
    now = status.get("liquidateNow") or {}
    before = previous.get("liquidateNow") or {}
    if now.get("outcome") == IGNORED and (before.get("outcome") != IGNORED
                                          or before.get("requestedAt") != now["requestedAt"]):
        return [Emit("Warning", "LiquidationRequestIgnored", f"spec.liquidateNow: "
                     f"{now['message']}")]
    return []
