"""EventSink on Postgres: ``publish`` stores and logs; ``log`` only logs events that their
store method already wrote in the transaction of the state change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_store import append_events
from tradefleet.adapters.telemetry.logging import log_event
from tradefleet.domain.events import Event


class PostgresEventSink:
    def __init__(self, db: Database, **context: Any) -> None:
        self._db = db
        self._context = context

    async def publish(self, event: Event) -> None:
        async with self._db.pool.acquire() as conn:
            await append_events(conn, [event])
        log_event(event, **self._context)

    def log(self, events: Iterable[Event]) -> None:
        for event in events:
            log_event(event, **self._context)
