"""Read models for the daily report: per-worker summaries and the day's closed trades."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from tradefleet.adapters.postgres.database import Database


@dataclass(frozen=True)
class WorkerSummary:
    worker_id: str
    realized_pnl: int
    trades_count: int
    win_count: int
    loss_count: int
    win_rate: Decimal | None
    avg_pnl: Decimal | None
    max_loss: int
    fees: int
    taxes: int
    tuning: dict


@dataclass(frozen=True)
class ClosedTrade:
    worker_id: str
    symbol: str
    qty: int
    entry_price: Decimal
    exit_price: Decimal | None
    entry_at: object
    exit_at: object
    exit_reason: str | None
    realized_pnl: int


@dataclass(frozen=True)
class DailyReport:
    trading_day: date | None
    summaries: list[WorkerSummary] = field(default_factory=list)
    trades: list[ClosedTrade] = field(default_factory=list)

    @property
    def total_pnl(self) -> int:
        return sum(s.realized_pnl for s in self.summaries)

    @property
    def total_trades(self) -> int:
        return sum(s.trades_count for s in self.summaries)

    @property
    def total_wins(self) -> int:
        return sum(s.win_count for s in self.summaries)


async def fetch_daily_report(db: Database, trading_day: date | None = None) -> DailyReport:
    """The report of ``trading_day``, or of the latest day with a summary when None."""
    if trading_day is None:
        trading_day = await db.pool.fetchval("SELECT max(trading_day) FROM daily_summaries")
        if trading_day is None:
            return DailyReport(None)
    rows = await db.pool.fetch(
        """SELECT worker_id, realized_pnl, trades_count, win_count, loss_count, win_rate,
                  avg_pnl, max_loss, fees, taxes,
                  daily_tuning(trading_day, worker_id) AS tuning
             FROM daily_summaries WHERE trading_day = $1 ORDER BY worker_id""", trading_day)
    trades = await db.pool.fetch(
        """SELECT worker_id, symbol, bought_qty AS qty, entry_price, exit_price, entry_at,
                  exit_at, exit_reason, realized_pnl
             FROM positions WHERE trading_day = $1 AND status = 'CLOSED'
            ORDER BY exit_at NULLS LAST, position_id""", trading_day)
    return DailyReport(
        trading_day,
        [WorkerSummary(**dict(r)) for r in rows],
        [ClosedTrade(**{**dict(r), "realized_pnl": r["realized_pnl"] or 0}) for r in trades],
    )
