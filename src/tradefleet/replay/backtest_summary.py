"""A backtest's summary: one row per day and a total, from the positions the workers wrote
(``realized_pnl`` is after fees and tax, ``domain/pnl``). Plain text with no wall-clock
figure in it, so that two runs of the same data and settings print the same bytes (the
determinism check compares them); the speed is reported apart (``speed_line``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tradefleet.replay.backtest import BacktestResult
from tradefleet.replay.runner import DayRun


@dataclass(frozen=True)
class DayFigures:
    label: str
    trades: int             # closed round trips
    wins: int
    pnl: int                # won, after fees and tax
    costs: int              # fees + tax, won
    max_loss: int           # the worst trade's PnL when it lost, else 0
    left_open: int          # positions holding shares at the close (should be 0)

    @property
    def win_rate(self) -> str:
        return f"{100 * self.wins / self.trades:.1f}%" if self.trades else "-"


def figures(label: str, trades: Sequence[dict[str, Any]]) -> DayFigures:
    """A trade is a closed position that bought (an entry that never filled is none);
    ``left_open`` counts positions still holding shares."""
    closed = [t for t in trades if t["status"] == "CLOSED" and t["bought_qty"] > 0]
    pnls = [int(t["realized_pnl"] or 0) for t in closed]
    return DayFigures(label, len(closed), sum(1 for p in pnls if p > 0), sum(pnls),
                      sum(int(t["fees"]) + int(t["taxes"]) for t in closed),
                      min([0, *pnls]), sum(1 for t in trades if t["status"] == "OPEN"))


def _won(value: int) -> str:
    return f"{value:,}"


HEADERS = ("day", "trades", "wins", "win rate", "PnL (won)", "fees+tax", "max loss", "open")


def format_summary(result: BacktestResult, *, title: str) -> str:
    """The per-day and total table, skipped days and the versions traded under."""
    rows = [figures(str(run.day), run.trades) for run in result.runs]
    total = figures("total", [t for run in result.runs for t in run.trades])
    cells = [[f.label, str(f.trades), str(f.wins), f.win_rate, _won(f.pnl), _won(f.costs),
              _won(f.max_loss), str(f.left_open)] for f in [*rows, total]]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(HEADERS)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True)))

    rule = "  ".join("-" * w for w in widths)
    out = [title, line(HEADERS), rule, *(line(c) for c in cells[:-1]), rule, line(cells[-1])]
    versions = sorted({f"{t['strategy_name']} params {t['param_version']}"
                       for run in result.runs for t in run.trades})
    if versions:
        out.append("traded under: " + ", ".join(versions))
    noted = [p for p in result.planned if p.folder is not None and p.note]
    if noted:
        out.append("ran differently: " + "; ".join(f"{p.day} ({p.note})" for p in noted))
    skipped = [p for p in result.planned if p.folder is None]
    if skipped:
        out.append("skipped: " + "; ".join(f"{p.day} ({p.skipped})" for p in skipped))
    return "\n".join(out) + "\n"


def speed_line(runs: Sequence[DayRun], workers: int, *, wall: float | None = None) -> str:
    """Wall-clock figures: not part of the summary (they differ run to run). ``wall``: the
    backtest's own (days run side by side overlap), else the days' added up."""
    wall = sum(r.wall_s for r in runs) if wall is None else wall
    session = sum(r.session_s for r in runs)
    polls = sum(r.polls for r in runs) * workers
    speed = f"{session / wall:,.0f}x" if wall > 0 else "-"
    return (f"{len(runs)} day(s), {polls:,} worker polls, {session / 3600:.1f} session h in "
            f"{wall:.1f} s wall = {speed} the session clock")
