"""LockService: per-symbol ownership across the fleet (spec SC-003, SC-004, SC-009, SC-010)."""

from __future__ import annotations

from dataclasses import replace

from opentelemetry import trace

from tradefleet.domain.locks import Lock, check_symbol, check_ttl, check_worker_id
from tradefleet.ports.events import EventSink
from tradefleet.ports.lock_store import LockStore

_tracer = trace.get_tracer("tradefleet.locks")

class LockService:
    def __init__(self, store: LockStore, sink: EventSink, *, ttl_seconds: int) -> None:
        self._store = store
        self._sink = sink
        self._ttl = check_ttl(ttl_seconds)

    async def acquire_lock(self, symbol: str, worker_id: str, *, epoch: int | None = None
                           ) -> Lock | None:
        """The lock, or None (with a LockRejectedEvent) when another worker holds it.
        ``epoch`` (the caller's process epoch) is carried by the lock into the guarded order
        insert, which refuses it once the worker row has a newer epoch."""
        check_symbol(symbol)
        check_worker_id(worker_id)
        with _tracer.start_as_current_span("lock.acquire", attributes={
                "worker_id": worker_id, "symbol": symbol}) as span:
            lock, event = await self._store.try_acquire(symbol, worker_id, self._ttl)
            span.set_attribute("acquired", lock is not None)
            if lock is not None:
                span.set_attribute("fencing_token", lock.fencing_token)
        self._sink.log([event])
        return lock if lock is None or epoch is None else replace(lock, epoch=epoch)

    async def release_lock(self, lock: Lock, reason: str) -> bool:
        """Only the owner with the same token can release; False if it was not ours anymore."""
        event = await self._store.release(lock, reason)
        if event is not None:
            self._sink.log([event])
        return event is not None

    async def heartbeat(self, worker_id: str, epoch: int) -> bool:
        """Refresh the worker row and all its locks; False means this process was fenced."""
        return await self._store.heartbeat(worker_id, epoch)

    async def reclaim_expired(self) -> list[str]:
        """Reclaim the locks of every worker whose heartbeat is older than its TTL (database
        clock) and mark it EXIT. Safe to run from every live process at once."""
        workers, events = await self._store.reclaim_expired()
        self._sink.log(events)
        return workers

    async def locks_of(self, worker_id: str) -> list[Lock]:
        return await self._store.locks_of(worker_id)
