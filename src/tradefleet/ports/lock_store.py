"""Persistence of locks and worker rows. Every state-changing method writes its events in
the same statement or transaction as the change and returns them for logging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from tradefleet.domain.events import Event
from tradefleet.domain.locks import Lock
from tradefleet.domain.states import WorkerStatus


@dataclass(frozen=True)
class WorkerRow:
    worker_id: str
    pid: int
    host: str
    mode: str
    status: WorkerStatus
    current_symbol: str | None
    epoch: int
    lock_ttl_seconds: int
    buy_blocked: str | None
    started_at: datetime
    heartbeat_at: datetime


class LockStore(Protocol):
    async def try_acquire(self, symbol: str, worker_id: str, ttl_seconds: int
                          ) -> tuple[Lock | None, Event]: ...

    async def release(self, lock: Lock, reason: str) -> Event | None: ...

    async def heartbeat(self, worker_id: str, epoch: int) -> bool: ...

    async def reclaim_expired(self) -> tuple[list[str], list[Event]]: ...

    async def locks_of(self, worker_id: str) -> list[Lock]: ...


class WorkerStore(Protocol):
    async def register(self, worker_id: str, *, pid: int, host: str, mode: str,
                       lock_ttl_seconds: int) -> int: ...

    async def open_day(self, worker_id: str, trading_day: date) -> None: ...

    async def get(self, worker_id: str) -> WorkerRow | None: ...

    async def transition(self, worker_id: str, epoch: int, current: WorkerStatus,
                         target: WorkerStatus, current_symbol: str | None,
                         event: Event) -> bool: ...

    async def set_buy_blocked(self, worker_id: str, reason: str | None) -> None: ...

    async def stop(self, worker_id: str, epoch: int, reason: str) -> list[Event]: ...
