"""What the operator reads about a worker: everything comes from Postgres, the source of
truth. Ages are judged by the database clock (``heartbeat_age_seconds``, ``live``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from tradefleet.ports.worker_controls import WorkerControls


@dataclass(frozen=True, slots=True)
class WorkerHoldings:
    """What the database still holds for a worker: it is flat when all are zero."""

    open_positions: int = 0
    held_qty: int = 0
    locks: int = 0
    open_orders: int = 0

    @property
    def flat(self) -> bool:
        return not (self.open_positions or self.held_qty or self.locks or self.open_orders)


@dataclass(frozen=True, slots=True)
class WorkerState:
    """A worker's row (None fields when it never registered), its holdings, its day."""

    worker_id: str
    registered: bool
    status: str | None = None           # IDLE / SCAN / HOLD / EXIT
    epoch: int = 0
    current_symbol: str | None = None
    heartbeat_at: datetime | None = None
    heartbeat_age_seconds: float | None = None
    lock_ttl_seconds: int | None = None
    live: bool = False                  # not EXIT and heartbeat within its TTL (db clock)
    buy_blocked: str | None = None
    stopped_at: datetime | None = None
    stopped_age_seconds: float | None = None
    # EXIT by the fenced reclaim (stopped a TTL or more after its last heartbeat), not by
    # the worker's own stop: whatever process is left of it is fenced
    reclaimed: bool = False
    holdings: WorkerHoldings = WorkerHoldings()
    realized_pnl_today: int = 0
    trades_today: int = 0
    controls: WorkerControls = WorkerControls()
    feed_mode: str | None = None        # "live" / "polling" as the worker said; None: no feed

    @property
    def stale(self) -> bool:
        """Registered, not EXIT, and silent past its TTL: dead by the database's judgement."""
        return self.registered and self.status != "EXIT" and not self.live


class FleetStatusStore(Protocol):
    async def worker_state(self, worker_id: str, trading_day: date) -> WorkerState: ...

    async def holdings(self, worker_ids: list[str] | None) -> dict[str, WorkerHoldings]: ...
