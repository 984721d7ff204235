"""The stored SC-011 tuning data of the days being tuned (every worker's daily summary):
symbols with fills worse than the decision quote (thin books) or left unsold at the forced
liquidation, and the loss the liquidation widened. The search avoids the thin-book symbols
(a constraint) and the evidence reports all three (features a person reads before
approving)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class TuningNotes:
    thin_symbols: tuple[str, ...] = ()
    adverse_fills: int = 0
    shortfalls: int = 0
    liquidation_widened_won: int = 0
    days_with_notes: tuple[str, ...] = field(default_factory=tuple)

    def as_evidence(self) -> dict[str, Any]:
        return {"thin_symbols_avoided": list(self.thin_symbols),
                "adverse_fills": self.adverse_fills, "liquidity_shortfalls": self.shortfalls,
                "liquidation_widened_won": self.liquidation_widened_won,
                "days_with_notes": list(self.days_with_notes)}


async def read_tuning_notes(conn: asyncpg.Connection | asyncpg.Pool,
                            days: Sequence[date]) -> TuningNotes:
    rows = await conn.fetch("SELECT trading_day, daily_tuning(trading_day, worker_id) AS tuning "
                            "FROM daily_summaries "
                            "WHERE trading_day = ANY($1::date[]) ORDER BY trading_day, worker_id",
                            list(days))
    thin: set[str] = set()
    adverse = shortfalls = widened = 0
    noted: set[str] = set()
    for r in rows:
        tuning = r["tuning"] or {}
        fills = tuning.get("adverse_fills", [])
        short = tuning.get("liquidity_shortfall", [])
        impact = tuning.get("liquidation_impact", [])
        adverse += len(fills)
        shortfalls += len(short)
        widened += sum(int(i.get("widened_by", 0)) for i in impact)
        thin.update(str(i["symbol"]) for i in [*fills, *short] if "symbol" in i)
        if fills or short or impact:
            noted.add(r["trading_day"].isoformat())
    return TuningNotes(tuple(sorted(thin)), adverse, shortfalls, widened,
                       tuple(sorted(noted)))
