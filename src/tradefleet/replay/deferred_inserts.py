"""Replay-only: rows a replayed day's workers would insert on their own, kept in memory and
inserted together by one statement before the next statement on the day's held connections
that can see their table (issue 21, speed). The mechanism shared by the kept events
(``replay.deferred_events``) and the kept scans' candidate rows
(``replay.deferred_candidates``); those modules say why each keeps every reader's view.

``HeldConnections`` (``replay.held_connections``) asks every ``DeferredInserts`` it holds,
before each statement: when rows are kept (``due``) and the statement's text names the
table (``names``), or it is a block of statements (``acquire``: its text is not known
beforehand), the kept rows are inserted first (``store``), outside any transaction, on the
connection the statement is about to use. The runner stores what is still kept once the
day has run (``HeldConnections.flush``).

Each kept item carries the ``time.monotonic()`` it was kept at; ``store`` hands the insert
each item's age, so the statement can stamp it ``now()`` less its age: the moment it was
kept, on the database's clock, as an insert at that moment would have stamped it. That
moment is never after the storing statement's ``now()``, so never after the ``now()`` of
any statement that runs after the store (a block's included), and never before the
``now()`` of a statement that ended before the item was kept (same clock rates: the
database's and this process's monotonic clock, on one host, both follow the system's)."""

from __future__ import annotations

import asyncio
import time
from typing import Any


class DeferredInserts:
    """Items kept for the next statement that names ``table``, stored in the order kept."""

    table = ""                          # the table the kept items go to (lower case)

    def __init__(self) -> None:
        self._storing = asyncio.Lock()  # one store at a time: the ids keep the kept order
        self.pending: list[tuple[Any, float]] = []   # (item, time.monotonic() kept)
        self.stored = 0                 # items stored
        self.statements = 0             # INSERTs that stored them

    def keep(self, item: Any) -> None:
        self.pending.append((item, time.monotonic()))

    def due(self) -> bool:
        """Items are kept, or being stored: a statement now waits for them first."""
        return bool(self.pending) or self._storing.locked()

    def names(self, query: Any) -> bool:
        """``query`` may see the table: its text names it, or it is a block (None)."""
        return not isinstance(query, str) or self.table in query.lower()

    async def store(self, conn: Any) -> None:
        """Insert the kept items on ``conn``, in the order kept, after any store already
        under way (a statement of a concurrent task)."""
        async with self._storing:
            kept, self.pending = self.pending, []
            if not kept:
                return
            now = time.monotonic()
            await self._insert(conn, [item for item, _ in kept], [now - at for _, at in kept])
            self.stored += len(kept)
            self.statements += 1

    async def _insert(self, conn: Any, items: list[Any], ages: list[float]) -> None:
        """One statement on ``conn`` inserting ``items`` in order, each ``ages[k]`` seconds
        old (stamped ``now()`` less it)."""
        raise NotImplementedError
