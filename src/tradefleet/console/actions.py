"""Pause buying, resume and liquidate-now, through the authority that already exists.

Locally the console writes the same ``worker_controls`` rows the operator writes (the
operator's own store, ``PostgresWorkerControls``), in one transaction with the event that
records who asked and why. Under Kubernetes it patches the TradingWorker (``spec.paused``,
or ``spec.liquidateNow`` with when, who and why) and the operator, the one writer of those
rows, carries it out; the event is still written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_store import append_events
from tradefleet.adapters.postgres.worker_controls_store import PostgresWorkerControls
from tradefleet.console.session_day import SessionDay
from tradefleet.domain.events import Event
from tradefleet.operator.kube import KubeError

ActionName = Literal["pause", "resume", "liquidate"]
ACTIONS: tuple[str, ...] = ("pause", "resume", "liquidate")
MAX_REASON = 200


class ConsoleActionEvent(Event):
    message: ClassVar[str] = "console action"
    action: str
    by: str
    reason: str
    via: str             # worker_controls | TradingWorker
    changed: bool


class ActionRefused(Exception):
    """An action this console cannot carry out here (said to the person as it is)."""


@dataclass(frozen=True)
class ActionResult:
    worker_id: str
    action: str
    changed: bool
    via: str


class ActionAuthority(Protocol):
    async def apply(self, action: str, workers: Sequence[str], by: str, reason: str,
                    sd: SessionDay) -> list[ActionResult]: ...


@dataclass(frozen=True)
class _OnConnection:
    """The operator's store, run on one connection of the caller's transaction."""

    pool: object


def check_request(action: str, reason: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action: must be one of {', '.join(ACTIONS)}, got {action!r}")
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("reason: say why (it is recorded with the action)")
    if len(reason) > MAX_REASON:
        raise ValueError(f"reason: at most {MAX_REASON} characters")
    return reason


class LocalControls:
    """A local fleet: the ``worker_controls`` rows, as the operator writes them."""

    VIA = "worker_controls"

    def __init__(self, db: Database) -> None:
        self._db = db

    async def apply(self, action: str, workers: Sequence[str], by: str, reason: str,
                    sd: SessionDay) -> list[ActionResult]:
        out = []
        async with self._db.transaction() as conn:
            controls = PostgresWorkerControls(_OnConnection(conn))  # type: ignore[arg-type]
            events = []
            for wid in workers:
                if action == "liquidate":
                    changed = await controls.request_liquidation(wid, sd.now(), f"console/{by}")
                else:
                    changed = await controls.set_paused(wid, action == "pause")
                out.append(ActionResult(wid, action, changed, self.VIA))
                events.append(ConsoleActionEvent(worker_id=wid, action=action, by=by,
                                                 reason=reason, via=self.VIA, changed=changed))
            await append_events(conn, events)
        return out


def spec_patch(action: str, by: str, reason: str, sd: SessionDay) -> dict:
    """The TradingWorker spec change that asks for ``action`` (crds/: spec.liquidateNow)."""
    if action == "liquidate":
        return {"liquidateNow": {"requestedAt": sd.now().isoformat(timespec="seconds"),
                                 "by": by[:100], "reason": reason[:MAX_REASON]}}
    return {"paused": action == "pause"}


class KubeControls:
    """Kubernetes: the TradingWorker is the request; the operator stays the one writer."""

    VIA = "TradingWorker"

    def __init__(self, db: Database, kube, namespace: str) -> None:  # noqa: ANN001 - KubeApi
        self._db = db
        self._kube = kube
        self._namespace = namespace

    async def apply(self, action: str, workers: Sequence[str], by: str, reason: str,
                    sd: SessionDay) -> list[ActionResult]:
        out = []
        for wid in workers:
            try:
                found = await self._kube.patch_worker_spec(self._namespace, wid,
                                                           spec_patch(action, by, reason, sd))
            except KubeError as exc:
                if exc.status not in (400, 403, 422):
                    raise
                raise ActionRefused(f"TradingWorker {wid}: the API refused the change: "
                                    f"{exc.message}") from exc
            out.append(ActionResult(wid, action, found is not None, self.VIA))
        async with self._db.transaction() as conn:
            await append_events(conn, [
                ConsoleActionEvent(worker_id=r.worker_id, action=action, by=by, reason=reason,
                                   via=self.VIA, changed=r.changed) for r in out])
        return out
