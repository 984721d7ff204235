"""Replay-only: the events a replayed day's workers publish on their own (the monitoring
event of every HOLD poll, a scan's, ...) stored together, by the next statement run on the
day's held connections, instead of one INSERT each (issue 21, speed).

In a replayed fleet most polls are quiet holds whose one statement is the insert of their
monitoring event; ten workers, ten inserts a step. ``DeferredEvents`` takes each worker's
``PostgresEventSink.publish`` (``log`` is not touched: those events are written by their
store, in the transaction of their state change) and keeps the event; before any other
statement runs on the day's ``HeldConnections`` (every worker's, the runner's, the lease
beats': the replay's only way to its database), the kept events are inserted first, in
the order they were published, with one statement (``append_events``, outside any
transaction, as ``publish`` inserts). A single statement whose text does not name the events table
(most of a replay's: the orphan look, the reads of orders and positions, ...) runs without
storing them first: it can neither read nor write that table (the schema has no view,
trigger, rule or function that touches ``events``; ``migrations/``), so the kept events
wait for the next statement that names it, a block of statements (``acquire``: its text
is not known beforehand) or the step's end. So:

1. every statement that can see the events table sees it as it would have: each event
   published before it is stored before it runs;
2. the events get their ids in the order they were published (the one INSERT takes them
   from the unnested arrays in order), and every other insert of an event (a store's, in
   the transaction of its state change) names the table, so the kept ones are stored
   before it: ``ORDER BY event_id`` reads the same log;
3. the event's log line and the worker's metrics hear of it at ``publish``, as before
   (``PostgresEventSink.log``);
4. the runner stores what is kept at the end of every step (``flush``), so an event's
   row is written during the step it was published in (a row's wall time is put back on
   the session clock by its step, ``DayRun.marks``).

What differs: ``occurred_at`` (the database's ``now()``, a wall time) is the storing
statement's, milliseconds later, and the events stored together share it. Trades, fills
and summaries are unchanged (the parity test replays with it against the simulated day
without). Live workers never use this: it wraps sinks inside ``replay.runner`` only."""

from __future__ import annotations

import asyncio
from typing import Any

from tradefleet.adapters.postgres.event_store import append_events
from tradefleet.domain.events import Event


class DeferredEvents:
    """Events published by a replayed day's workers, kept until the next statement."""

    def __init__(self) -> None:
        self._storing = asyncio.Lock()  # one store at a time: the ids keep the publish order
        self.pending: list[Event] = []
        self.stored = 0                 # events stored
        self.statements = 0             # INSERTs that stored them

    def watch(self, sink: Any) -> None:
        """Keep what ``sink`` publishes (a ``PostgresEventSink``) for the next statement."""
        log = sink.log

        async def publish(event: Event) -> None:
            self.pending.append(event)
            log([event])

        sink.publish = publish

    def due(self) -> bool:
        """Events are kept, or being stored: a statement now waits for them first."""
        return bool(self.pending) or self._storing.locked()

    async def store(self, conn: Any) -> None:
        """Insert the kept events on ``conn``, in the order published (see 1. and 2.),
        after any store already under way (a statement of a concurrent task)."""
        async with self._storing:
            events, self.pending = self.pending, []
            if not events:
                return
            await append_events(conn, events)
            self.stored += len(events)
            self.statements += 1
