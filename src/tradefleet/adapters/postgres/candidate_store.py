"""Writes one scan's candidate rows in a single statement (a scan may cover 2,700 symbols,
so row-by-row inserts would dominate the poll)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from uuid import UUID

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.candidate_store import CandidateRow

_INSERT = """
INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume, traded_value,
    change_rate, spread_ticks, passed_filters, rejected_by, indicators, signal,
    strategy_name, strategy_version, param_version)
SELECT $1, $2, $3, u.symbol, u.price, u.volume, u.traded_value, u.change_rate, u.spread_ticks,
    u.passed, string_to_array(u.rejected, ','), u.indicators::jsonb, u.signal, $4, $5, $6
FROM unnest($7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[],
            $12::int[], $13::bool[], $14::text[], $15::text[], $16::bool[])
     AS u(symbol, price, volume, traded_value, change_rate, spread_ticks, passed, rejected,
          indicators, signal)
"""


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
            param_version,
            [r.symbol for r in rows], [r.price for r in rows], [r.volume for r in rows],
            [r.traded_value for r in rows], [r.change_rate for r in rows],
            [r.spread_ticks for r in rows], [r.passed_filters for r in rows],
            [",".join(r.rejected_by) for r in rows],
            [json.dumps(r.indicators) for r in rows], [r.signal for r in rows])
        return len(rows)
