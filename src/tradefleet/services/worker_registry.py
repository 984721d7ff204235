"""The worker's row and its state machine, persisted (spec SC-001, §6.2 transitions)."""

from __future__ import annotations

from datetime import date

from tradefleet.domain.errors import Fenced
from tradefleet.domain.events import StateTransitionedEvent
from tradefleet.domain.locks import check_symbol, check_ttl, check_worker_id
from tradefleet.domain.states import WorkerStatus, check_transition
from tradefleet.ports.events import EventSink
from tradefleet.ports.lock_store import WorkerRow, WorkerStore


class WorkerRegistry:
    def __init__(self, store: WorkerStore, sink: EventSink) -> None:
        self._store = store
        self._sink = sink

    async def register(self, worker_id: str, *, pid: int, host: str, mode: str,
                       lock_ttl_seconds: int) -> int:
        """Upsert the row as IDLE and return this process's epoch (older ones are fenced)."""
        check_worker_id(worker_id)
        check_ttl(lock_ttl_seconds, "lock_ttl_seconds")
        if mode not in ("sim", "paper", "real"):
            raise ValueError(f"mode: expected sim, paper or real, got {mode!r}")
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            raise ValueError(f"pid: expected a positive integer, got {pid!r}")
        return await self._store.register(worker_id, pid=pid, host=host, mode=mode,
                                          lock_ttl_seconds=lock_ttl_seconds)

    async def open_day(self, worker_id: str, trading_day: date) -> None:
        """Create the day's (empty) daily summary: every worker that ran has one."""
        await self._store.open_day(worker_id, trading_day)

    async def get(self, worker_id: str) -> WorkerRow | None:
        return await self._store.get(worker_id)

    async def transition(self, worker_id: str, epoch: int, to: WorkerStatus, *,
                         current_symbol: str | None, reason: str) -> None:
        """Move to ``to`` if the state table allows it; Fenced if this epoch is not the live
        row any more (newer registration, or marked EXIT by a reclaim)."""
        if current_symbol is not None:
            check_symbol(current_symbol, "current_symbol")
        row = await self._store.get(worker_id)
        if row is None or row.epoch != epoch or row.status is WorkerStatus.EXIT:
            raise Fenced(f"worker {worker_id} epoch {epoch} is no longer current")
        if row.status is to is not WorkerStatus.IDLE and row.current_symbol == current_symbol:
            # our own earlier write of this move landed and only its answer was lost (a
            # database restart between commit and reply): the move is made; repeating it
            # must not fail every poll after, which would also starve the liquidation.
            # (IDLE is entered by registration only, never by a move: no repeat of one.)
            return
        check_transition(row.status, to)
        event = StateTransitionedEvent(worker_id=worker_id, symbol=current_symbol,
                                       from_status=row.status.value, to_status=to.value,
                                       reason=reason)
        if not await self._store.transition(worker_id, epoch, row.status, to, current_symbol,
                                            event):
            raise Fenced(f"worker {worker_id} row changed under epoch {epoch}")
        self._sink.log([event])

    async def set_buy_blocked(self, worker_id: str, reason: str | None) -> None:
        await self._store.set_buy_blocked(worker_id, reason)

    async def stop(self, worker_id: str, epoch: int, reason: str) -> None:
        """Mark this epoch's row EXIT (the transition and a WorkerStoppedEvent); a no-op if
        already fenced."""
        self._sink.log(await self._store.stop(worker_id, epoch, reason))
