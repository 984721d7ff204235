"""Reading what a scenario left behind, as the spec's 검증 방법 lists name it: rows of the
database, events of the ``events`` table, and the log lines the worker wrote (with their
§6.1 level and §6.2 fields)."""

from __future__ import annotations

from typing import Any

from tradefleet.adapters.postgres.database import Database


async def events(db: Database, event_type: str, *, worker_id: str | None = None,
                 symbol: str | None = None) -> list[dict[str, Any]]:
    """Stored events of one type, oldest first, as dicts (payload keys at the top level)."""
    rows = await db.pool.fetch(
        """SELECT event_id, worker_id, symbol, payload FROM events
            WHERE event_type = $1 AND ($2::text IS NULL OR worker_id = $2)
              AND ($3::text IS NULL OR symbol = $3) ORDER BY event_id""",
        event_type, worker_id, symbol)
    return [{"event_id": r["event_id"], "worker_id": r["worker_id"], "symbol": r["symbol"],
             **r["payload"]} for r in rows]


async def kinds(db: Database, worker_id: str) -> list[str]:
    """The worker's event types in the order they were stored."""
    rows = await db.pool.fetch(
        "SELECT event_type FROM events WHERE worker_id = $1 ORDER BY event_id", worker_id)
    return [r["event_type"] for r in rows]


def lines(logs, *, event: str | None = None, event_type: str | None = None,  # noqa: ANN001
          **fields: Any) -> list[dict[str, Any]]:
    """Log lines whose ``event`` (the message of a plain line) or ``event_type`` (an event's
    line) match, and whose fields equal ``fields``."""
    out = []
    for r in logs.records:
        if event is not None and r.get("event") != event:
            continue
        if event_type is not None and r.get("event_type") != event_type:
            continue
        if all(r.get(k) == v for k, v in fields.items()):
            out.append(r)
    return out


def one_line(logs, **match: Any) -> dict[str, Any]:  # noqa: ANN001
    found = lines(logs, **match)
    assert len(found) == 1, f"expected one log line {match}, found {len(found)}"
    return found[0]


def has_fields(line: dict[str, Any], *names: str) -> None:
    """§6.2: each named field is on the line with a value."""
    missing = [n for n in names if line.get(n) in (None, "")]
    assert not missing, f"line {line.get('event')!r} lacks {missing}: {line}"


async def worker_row(db: Database, worker_id: str) -> dict[str, Any]:
    row = await db.pool.fetchrow("SELECT * FROM workers WHERE worker_id = $1", worker_id)
    assert row is not None, worker_id
    return dict(row)
