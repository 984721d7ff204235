"""EventSink on Postgres: ``publish`` stores and logs; ``log`` only logs events that their
store method already wrote in the transaction of the state change. ``observe`` (the worker's
metrics) sees every event once it is stored: one hook for every counter derived from events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_store import append_events
from tradefleet.adapters.telemetry.logging import log_event
from tradefleet.domain.events import Event


class PostgresEventSink:
    def __init__(self, db: Database, *, observe: Callable[[Event], None] | None = None,
                 **context: Any) -> None:
        self._db = db
        self._observe = observe
        self._context = context

    async def publish(self, event: Event) -> None:
        async with self._db.pool.acquire() as conn:
            await append_events(conn, [event])
        self.log([event])

    def log(self, events: Iterable[Event]) -> None:
        for event in events:
            log_event(event, **self._context)
            if self._observe is not None:
                self._observe(event)
