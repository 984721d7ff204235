"""Appending events to ``events`` inside the caller's transaction, so an event is stored
exactly when the state change it describes is committed."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from tradefleet.domain.events import Event

_EVENTS_FROM = """
INSERT INTO events (event_type, worker_id, symbol, payload)
SELECT * FROM unnest(${0}::text[], ${1}::text[], ${2}::text[], ${3}::jsonb[])
"""
_INSERT = _EVENTS_FROM.format(1, 2, 3, 4)
# its arrays as parameters 5 to 8, so that it rides in a CTE after four parameters of the
# caller's (``order_reports``)
EVENTS_INSERT = _EVENTS_FROM.format(5, 6, 7, 8)


def event_columns(events: Sequence[Event]) -> tuple[list, list, list, list]:
    """``events`` as the four arrays the inserts take, in order."""
    return ([e.event_type for e in events], [e.worker_id for e in events],
            [e.symbol for e in events], [e.payload() for e in events])


async def append_events(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Insert ``events`` with one statement on ``conn`` (call inside a transaction)."""
    if not events:
        return
    await conn.execute(_INSERT, *event_columns(events))


async def fetch_events(
    conn: asyncpg.Connection | asyncpg.Pool, event_type: str | None = None,
    worker_id: str | None = None,
) -> list[asyncpg.Record]:
    """Events in insertion order, optionally filtered (used by tests, reports and the demo)."""
    return await conn.fetch(
        """SELECT event_id, event_type, worker_id, symbol, payload, occurred_at FROM events
           WHERE ($1::text IS NULL OR event_type = $1) AND ($2::text IS NULL OR worker_id = $2)
           ORDER BY event_id""",
        event_type, worker_id,
    )
