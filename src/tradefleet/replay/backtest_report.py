"""What a backtest's report shows (issue 21, item 3), computed from the rows the workers
wrote on each day's database (``DayRun.report``, read before the day's database is dropped):
the trades on the session clock, the equity curve and its drawdown over the days, per-day
figures, and the SC-011 tuning notes of the daily summaries added up over the days.

The session clock: a replay's rows carry the database's wall time (``exit_at`` is ``now()``
when the position closed), while its trading ran on a clock that jumps from step to step.
``DayRun.marks`` holds (wall time, session time) after every step; a row written at wall
time ``w`` was written during the first step that ended at or after ``w``, so it is put at
that step's session time (the poll's time, to the poll interval).

Rendering is ``replay/backtest_html``; this module has no HTML in it."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tradefleet.domain.calendar import SEOUL
from tradefleet.replay.backtest import BacktestResult
from tradefleet.replay.backtest_summary import DayFigures, figures
from tradefleet.replay.runner import DayRun


@dataclass(frozen=True)
class ReportTrade:
    day: date
    worker_id: str
    symbol: str
    qty: int
    entry_price: Decimal
    exit_price: Decimal | None
    entry_at: datetime | None       # session clock, KST
    exit_at: datetime | None        # session clock, KST
    exit_reason: str | None
    pnl: int                        # won, after fees and tax


@dataclass(frozen=True)
class TuningFigures:
    """SC-011's next-day tuning notes of one day (or all), added up."""

    label: str
    adverse_fills: int = 0
    adverse_ticks: Decimal = Decimal(0)          # summed over the adverse fills
    liquidations: int = 0                        # forced sales with an impact note
    liquidation_widened: int = 0                 # won the forced sale cost beyond its quote
    shortfalls: int = 0                          # positions liquidation could not sell out
    unsold_qty: int = 0
    # exit reason / spread at entry -> [trades, wins, PnL]: what held up, what did not
    filters: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class BacktestReport:
    title: str
    versions: list[str]                 # "strategy params VERSION", as traded or configured
    days: list[DayFigures]
    total: DayFigures
    trades: list[ReportTrade]           # closed trades that bought, in the order they closed
    equity: list[tuple[datetime, int]]  # cumulative PnL after each trade (session clock)
    drawdown: list[tuple[datetime, int]]  # equity minus its running peak (<= 0)
    tuning_days: list[TuningFigures]
    tuning_total: TuningFigures
    skipped: list[str]

    @property
    def avg_pnl(self) -> Decimal | None:
        t = self.total
        return (Decimal(t.pnl) / t.trades).quantize(Decimal("0.01")) if t.trades else None

    @property
    def max_drawdown(self) -> int:
        return min((d for _, d in self.drawdown), default=0)


def session_at(marks: Sequence[tuple[float, datetime]], wall: datetime | None
               ) -> datetime | None:
    """The session time of the step during which wall time ``wall`` fell."""
    if wall is None or not marks:
        return None
    k = bisect_left([w for w, _ in marks], wall.timestamp())
    return marks[min(k, len(marks) - 1)][1].astimezone(SEOUL)


def _trades(run: DayRun) -> list[ReportTrade]:
    if run.report is None:
        return []
    return [ReportTrade(run.day, t.worker_id, t.symbol, t.qty, t.entry_price, t.exit_price,
                        session_at(run.marks, t.entry_at), session_at(run.marks, t.exit_at),
                        t.exit_reason, int(t.realized_pnl))
            for t in run.report.trades if t.qty > 0]


def tuning_figures(label: str, notes: Sequence[dict[str, Any]]) -> TuningFigures:
    """``notes``: the ``tuning`` JSON of daily summaries (one per worker and day)."""
    adverse = [a for n in notes for a in n.get("adverse_fills", [])]
    impact = [i for n in notes for i in n.get("liquidation_impact", [])]
    short = [s for n in notes for s in n.get("liquidity_shortfall", [])]
    filters: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for note in (t for n in notes for t in n.get("trades", [])):
        scan = note.get("entry_scan") or {}
        pnl = int(note.get("pnl") or 0)
        for key in (f"exit: {note.get('exit_reason')}",
                    f"spread at entry: {scan.get('spread_ticks', '-')} tick(s)"):
            row = filters[key]
            row[0] += 1
            row[1] += pnl > 0
            row[2] += pnl
    return TuningFigures(label, len(adverse), sum((Decimal(str(a.get("ticks", 0)))
                                                   for a in adverse), Decimal(0)),
                         len(impact), sum(int(i.get("widened_by", 0)) for i in impact),
                         len(short), sum(int(s.get("unsold_qty", 0)) for s in short),
                         dict(sorted(filters.items())))


def _notes(run: DayRun) -> list[dict[str, Any]]:
    if run.report is None:
        return []
    return [s.tuning for s in run.report.summaries if isinstance(s.tuning, dict)]


def build_report(result: BacktestResult, *, title: str,
                 configured: Sequence[str] = ()) -> BacktestReport:
    """``configured``: the fleet's "strategy params VERSION", shown when nothing traded."""
    # days in date order, each day's trades as the database closed them (exit_at, then
    # position_id): the session order, since the session clock only moves forward
    trades = [t for run in result.runs for t in _trades(run)]
    equity, drawdown, total, peak = [], [], 0, 0
    for t in trades:
        if t.exit_at is None:
            continue
        total += t.pnl
        peak = max(peak, total)
        equity.append((t.exit_at, total))
        drawdown.append((t.exit_at, total - peak))
    traded = sorted({f"{t['strategy_name']} params {t['param_version']}"
                     for run in result.runs for t in run.trades})
    return BacktestReport(
        title=title, versions=traded or sorted(set(configured)),
        days=[figures(str(run.day), run.trades) for run in result.runs],
        total=figures("total", [t for run in result.runs for t in run.trades]),
        trades=trades, equity=equity, drawdown=drawdown,
        tuning_days=[tuning_figures(str(run.day), _notes(run)) for run in result.runs],
        tuning_total=tuning_figures("total", [n for run in result.runs for n in _notes(run)]),
        skipped=[f"{p.day} ({p.skipped})" for p in result.planned if p.folder is None])
