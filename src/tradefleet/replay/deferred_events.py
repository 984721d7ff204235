"""Replay-only: the events a replayed day's workers publish on their own (the monitoring
event of every HOLD poll, a scan's, ...) stored together, by the next statement run on the
day's held connections that names the events table, instead of one INSERT each (issue 21,
speed).

In a replayed fleet most polls are quiet holds whose one statement is the insert of their
monitoring event; ten workers, ten inserts a step. ``DeferredEvents`` takes each worker's
``PostgresEventSink.publish`` (``log`` is not touched: those events are written by their
store, in the transaction of their state change) and keeps the event with the moment it
was published; before a statement that names the events table runs on the day's
``HeldConnections`` (every worker's, the runner's, the lease beats': the replay's only way
to its database), or a block of statements (``acquire``: its text is not known
beforehand), the kept events are inserted first, in the order they were published, with
one statement (``STORE``, outside any transaction, as ``publish`` inserts). A single
statement whose text does not name the events table (most of a replay's: the orphan look,
the reads of orders and positions, ...) runs without storing them first: it can neither
read nor write that table (the schema has no view, trigger, rule or function that touches
``events``; ``migrations/``). Nothing is stored at a step's end any more: the runner
stores what is still kept once the day has run (``run_fleet_day``, ``HeldConnections.flush``),
before its connections go back to the pool. (A day that ends in an exception stores none
of what it kept, as its failing step's were lost before; a backtest reports that day's
error and drops its database.) So:

1. every statement that can see the events table sees it as it would have: each event
   published before it is stored before it runs;
2. the events get their ids in the order they were published (the one INSERT takes them
   from the unnested arrays in their order), and every other insert of an event (a
   store's, in the transaction of its state change) names the table, so the kept ones are
   stored before it: ``ORDER BY event_id`` reads the same log;
3. the event's log line and the worker's metrics hear of it at ``publish``, as before
   (``PostgresEventSink.log``);
4. ``occurred_at`` is the database's ``now()`` at the storing statement less the time the
   event was kept (``time.monotonic``): the wall time it was published at, on the
   database's clock, as ``publish`` would have stamped it, give or take a round trip. So
   it falls in the step the event was published in, which the store at every step's end
   ensured before, and events kept over several steps need that store no more (a row's
   wall time is put back on the session clock by the step it falls in, ``DayRun.marks``).

Who reads the events (none of it is a trade: trades, fills and summaries are unchanged,
the parity test replays with it against the simulated day without): during the day, only
statements that name the table (the lock store's and the order stores' own inserts,
``_NAME_HOLDER``'s update), each after the kept events are stored (1.); after the day (the
backtest reads none: its report and summary read positions, summaries and tuning notes,
and ``daily_tuning`` reads no events; ``tradefleet report``, the console, the chaos judge,
``lock_history`` on a replayed database) every kept event is stored, with the id (2.) and
the time (4.) it would have had. Before, a kept event's ``occurred_at`` was its step-end
store's ``now()``, shared by the events stored together; now each has its own, earlier by
at most a step, closer to a live worker's. Live workers never use this: it wraps sinks
inside ``replay.runner`` only.

Counted on a 10-worker fleet-day from 09:00 (``bench/replay_profile.py``): with a store
at each step's end the kept events took 5,137 INSERTs (2,460 at step ends, 1,560 before a
lock acquire, 1,117 before an order insert, none before a block: a store's transaction
never found an event kept); without, 2,820 (1,560 and 1,260). So a block still stores
first, before its ``BEGIN``: waiting for its first statement that names the table would
mean storing outside its transaction on another connection (a rolled-back block must not
take the kept events with it), for no INSERT saved.

The keeping, the store before a statement and the ages are ``replay.deferred_inserts``',
shared with the kept scans' candidate rows (``replay.deferred_candidates``)."""

from __future__ import annotations

from typing import Any

from tradefleet.adapters.postgres.event_store import event_columns
from tradefleet.domain.events import Event
from tradefleet.replay.deferred_inserts import DeferredInserts

# the kept events in publish order (ordinality), each stamped ``now()`` less how long it
# was kept (4.); the columns and codecs are ``event_store.append_events``'s
STORE = """
INSERT INTO events (event_type, worker_id, symbol, payload, occurred_at)
SELECT t, w, s, p, now() - make_interval(secs => a)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::float8[])
       WITH ORDINALITY AS kept(t, w, s, p, a, n)
 ORDER BY n
"""


class DeferredEvents(DeferredInserts):
    """Events published by a replayed day's workers, kept until the next statement
    (``replay.deferred_inserts``: the keeping, the store before a statement, the ages)."""

    table = "events"

    def watch(self, sink: Any) -> None:
        """Keep what ``sink`` publishes (a ``PostgresEventSink``) for the next statement."""
        log = sink.log

        async def publish(event: Event) -> None:
            self.keep(event)
            log([event])

        sink.publish = publish

    async def _insert(self, conn: Any, events: list[Event], ages: list[float]) -> None:
        await conn.execute(STORE, *event_columns(events), ages)
