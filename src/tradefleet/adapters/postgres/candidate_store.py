"""Writes one scan's candidate rows in a single statement (a scan may cover 2,700 symbols,
so row-by-row inserts would dominate the poll).

The rows travel as one ``jsonb`` parameter, a JSON array of one array per row, which the
statement takes apart with ``jsonb_array_elements`` (issue 21, speed). Before, they went as
ten arrays (one per column) into ``unnest``: asyncpg's array encoder asks an abstract base
class about every element (``isinstance(x, Iterable)``, ~1,500 calls a 100-row scan) and the
indicators were dumped row by row; one ``json.dumps`` of the whole scan (the pool's
``jsonb`` codec) costs the client about half (0.25-0.45 ms a 100-row scan against
0.62-0.73 ms), and the server the same (0.8-1.0 ms either way)
(``bench/candidate_insert.py``, bench/results/replay-scan21-*).

Why the stored values are the same: every column is read from the JSON text the way the
arrays' values were (``e->>k`` cast to the column's type: a Python int's JSON is its decimal
digits, a bool's ``true``/``false``, ``None`` is ``null`` and so SQL NULL); the change rate
goes as the text of its Decimal (``str``), so ``numeric`` reads the same digits as
asyncpg's binary Decimal and rounds them to the column's scale alike; the indicators are the
same ``json.dumps`` text as before, inside the array, read as ``jsonb`` (``e->8``) instead of
``::jsonb`` of that text; ``rejected_by`` is still ``string_to_array`` of the names joined by
commas; the rows keep their order (``candidate_id``) and ``scanned_at`` is still the
statement's ``now()`` (``tests/test_candidate_store.py`` compares with the ``unnest``
statement, value for value)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from uuid import UUID

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.candidate_store import CandidateRow

_COLUMNS = """INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume,
    traded_value, change_rate, spread_ticks, passed_filters, rejected_by, indicators, signal,
    strategy_name, strategy_version, param_version"""
# a row's columns from its JSON array ``e`` (``row_items``), between the scan's first three
# and its last three
_ROW = """e->>0, (e->>1)::bigint, (e->>2)::bigint, (e->>3)::bigint,
    (e->>4)::numeric, (e->>5)::int, (e->>6)::bool, string_to_array(e->>7, ','), e->8,
    (e->>9)::bool"""
_INSERT = f"""
{_COLUMNS})
SELECT $1, $2, $3, {_ROW}, $4, $5, $6
FROM jsonb_array_elements($7::jsonb) AS e
"""
# several scans at once (the replay's kept scans, ``replay.deferred_candidates``): a scan's
# columns one array each, its age in seconds (stamped ``scanned_at`` = ``now()`` less it),
# its rows as ``_INSERT``'s ``$7`` text (``scan_columns``); the scans and their rows in
# order (a function scan inside each unnested scan, as ``_INSERT``'s one). The scan's
# columns are read once a scan: items of a JSON array of whole scans were read again for
# every row (2.3 ms a 144-row statement on a fleet-day, against 0.97 ms a 100-row scan)
SCANS_INSERT = f"""
{_COLUMNS}, scanned_at)
SELECT k.scan_id, k.worker_id, k.trading_day, {_ROW}, k.strategy_name, k.strategy_version,
    k.param_version, now() - make_interval(secs => k.age)
FROM unnest($1::uuid[], $2::text[], $3::date[], $4::text[], $5::text[], $6::text[],
            $7::float8[], $8::text[])
     AS k(scan_id, worker_id, trading_day, strategy_name, strategy_version, param_version,
          age, rows),
     jsonb_array_elements(k.rows::jsonb) AS e
"""


def row_items(rows: Sequence[CandidateRow]) -> list[tuple]:
    """The rows as ``_INSERT``'s ``$7`` (the pool's ``jsonb`` codec is ``json.dumps``,
    ``adapters.postgres.database``): one tuple, a JSON array, per row, its items in the
    order the statement reads them (``e->>0`` .. ``e->>9``)."""
    return [(r.symbol, r.price, r.volume, r.traded_value, str(r.change_rate), r.spread_ticks,
             r.passed_filters, ",".join(r.rejected_by), r.indicators, r.signal)
            for r in rows]


def scan_columns(scans: Sequence[dict], ages: Sequence[float]) -> tuple[list, ...]:
    """Scans (``save_scan``'s keywords) and their ages as ``SCANS_INSERT``'s eight arrays;
    each scan's rows the JSON text the pool's ``jsonb`` codec makes of ``row_items``
    (``json.dumps``)."""
    return ([s["scan_id"] for s in scans], [s["worker_id"] for s in scans],
            [s["trading_day"] for s in scans], [s["strategy_name"] for s in scans],
            [s["strategy_version"] for s in scans], [s["param_version"] for s in scans],
            list(ages), [json.dumps(row_items(s["rows"])) for s in scans])


class PostgresCandidateStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_scan(self, *, scan_id: UUID, worker_id: str, trading_day: date,
                        strategy_name: str, strategy_version: str, param_version: str,
                        rows: Sequence[CandidateRow]) -> int:
        if not rows:
            return 0
        await self._db.pool.execute(
            _INSERT, scan_id, worker_id, trading_day, strategy_name, strategy_version,
            param_version, row_items(rows))
        return len(rows)
