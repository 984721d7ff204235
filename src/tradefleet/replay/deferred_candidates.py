"""Replay-only: a replayed day's scans keep their candidate rows in memory, and the rows
of all the scans kept since are inserted by one statement before the next statement on the
day's held connections that names the ``candidates`` table, before every block of
statements, and at the day's end (issue 21, speed). The keeping is the kept events'
(``replay.deferred_inserts``).

Each scan's insert was a replayed fleet-day's costliest statement (2,241 a 10-worker
fleet-day, 0.97 ms of server time each, 24 % of it, plus a round trip per scan). A
statement whose text does not name ``candidates`` cannot see the kept rows (no view,
trigger, rule or function of the schema touches the table, ``migrations/``). Who reads
``candidates`` and why each reads what it would have read:

1. ``position_store.ENTRY_SCAN``, in a position's close (the trade note: the worker's
   newest row of the symbol with ``scanned_at`` at or before the position's ``entry_at``).
   It runs inside a fill's transaction, a block, so every scan kept before it is stored
   first. A kept scan is stamped with the moment it was kept on the database's clock
   (``now()`` less its age), as its own insert then would have stamped it (give or take
   that insert's trip to the server): a scan kept before the entry's fill transaction is
   stored before that transaction begins (it is a block), so its ``scanned_at`` is never
   after ``entry_at`` (that transaction's ``now()``); a scan kept after it is stamped
   after it (``replay.deferred_inserts``); and the scans keep their order. So the same
   row is found.
2. ``candidate_owners.check_owners`` at the day's end, after the runner's flush.
3. After the day (the backtest's report, ``tradefleet report``): every kept row is stored,
   with the ids (``candidate_id``: one statement, the scans and their rows in the order
   kept, and no other insert into the table) and values of the scan's own insert
   (``candidate_store.SCANS_INSERT`` reads each column as ``_INSERT`` does, from the same
   ``row_items``; ``tests/test_deferred_candidates.py`` compares them text for text).

Measured on a 10-worker fleet-day from 09:00 (``bench/replay_statements.py``, both on a
loaded machine; bench/results/replay-cand21-stmt-*): 2,241 candidate inserts became 1,554
(1.44 scans each), 2,531 ms of server time 2,319 ms; 67,330 statements 66,636. Few scans
share a statement because a fill's transaction (a block, which must store them first: 1.)
follows almost every scan: a fleet-day has 1,494 trades to its 2,241 scans.
(``bench/results/candidates-cand21.txt``: a binary COPY of the same rows costs the server
~0.2 ms a scan less but the client ~0.5 ms more, and cannot stamp ``now()`` less an age.)

A day that ends in an exception stores none of what it kept (as with the kept events); a
backtest reports that day's error and drops its database. A row the table refuses (one of
its CHECKs: a symbol not six capitals or digits, a negative volume, a change rate past
``numeric(8, 4)``) fails the statement that stores it: no longer the scan's own insert
(whose poll failed, and the next ones alike), but the next store of the kept scans, so
the day ends in that error instead. Live workers never use this: it wraps the candidate
stores of ``replay.runner``'s workers only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tradefleet.adapters.postgres.candidate_store import (
    SCANS_INSERT,
    PostgresCandidateStore,
    scan_columns,
)
from tradefleet.ports.candidate_store import CandidateRow
from tradefleet.replay.deferred_inserts import DeferredInserts


class DeferredCandidates(DeferredInserts):
    """The candidate rows of a replayed day's scans, kept until the next statement that
    can see them."""

    table = "candidates"

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0                   # candidate rows kept
        self.unwatched = 0              # stores left as they were (not the Postgres one)

    def watch(self, store: Any) -> None:
        """Keep what ``store`` (a ``PostgresCandidateStore``) is asked to save."""
        if type(store) is not PostgresCandidateStore:
            self.unwatched += 1
            return

        async def save_scan(*, rows: Sequence[CandidateRow], **scan: Any) -> int:
            if not rows:
                return 0
            self.keep({**scan, "rows": rows})
            self.rows += len(rows)
            return len(rows)

        store.save_scan = save_scan

    async def _insert(self, conn: Any, scans: list[dict], ages: list[float]) -> None:
        await conn.execute(SCANS_INSERT, *scan_columns(scans, ages))
