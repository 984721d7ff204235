"""Replaying the lock events to prove no symbol was ever held by two workers at once.

A lock's release event is written by the statement that deletes the lock row, and the next
acquisition can only insert after that delete committed, so ``event_id`` order is a valid
order of the holds of one symbol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tradefleet.adapters.postgres.database import Database


@dataclass(frozen=True)
class DoubleHold:
    symbol: str
    holder: str
    intruder: str
    event_id: int


async def find_double_holds(db: Database) -> tuple[list[DoubleHold], int]:
    """Every moment a symbol was acquired while another worker still held it, and the
    number of acquisitions replayed."""
    rows = await db.pool.fetch(
        """SELECT event_id, event_type, worker_id, symbol, payload FROM events
            WHERE event_type IN ('LockAcquiredEvent', 'LockReleasedEvent')
            ORDER BY event_id""")
    return replay_lock_events(rows)


def replay_lock_events(rows: Iterable[Mapping[str, Any]]) -> tuple[list[DoubleHold], int]:
    """The replay itself, over rows in ``event_id`` order (from asyncpg, or JSON read
    through psql in a cluster test)."""
    holder: dict[str, tuple[str, int]] = {}
    problems: list[DoubleHold] = []
    acquisitions = 0
    for r in rows:
        token = int(r["payload"]["fencing_token"])
        if r["event_type"] == "LockAcquiredEvent":
            acquisitions += 1
            current = holder.get(r["symbol"])
            if current is not None:
                problems.append(DoubleHold(r["symbol"], current[0], r["worker_id"],
                                           r["event_id"]))
            holder[r["symbol"]] = (r["worker_id"], token)
        elif holder.get(r["symbol"], ("", -1))[1] == token:
            del holder[r["symbol"]]
    return problems, acquisitions
