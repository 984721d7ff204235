"""Terminal tables of a daily report (rich)."""

from __future__ import annotations

from rich.table import Table

from tradefleet.adapters.postgres.report_queries import DailyReport


def won(value: int | float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+,.0f}" if value else "0"


def _pnl_cell(value: int) -> str:
    colour = "green" if value > 0 else "red" if value < 0 else "white"
    return f"[{colour}]{won(value)}[/{colour}]"


def summary_table(report: DailyReport) -> Table:
    table = Table(title=f"Daily summary {report.trading_day or '(no trading day yet)'}")
    for name in ("worker", "trades", "wins", "win rate", "realized PnL", "avg PnL",
                 "max loss", "fees+tax", "shortfall"):
        table.add_column(name, justify="left" if name == "worker" else "right")
    for s in report.summaries:
        shortfall = s.tuning.get("liquidity_shortfall") if isinstance(s.tuning, dict) else None
        table.add_row(
            s.worker_id, str(s.trades_count), str(s.win_count),
            f"{s.win_rate:.0%}" if s.win_rate is not None else "-",
            _pnl_cell(s.realized_pnl), won(s.avg_pnl), won(s.max_loss),
            f"{s.fees + s.taxes:,}", str(len(shortfall)) if shortfall else "-")
    if report.summaries:
        rate = (report.total_wins / report.total_trades) if report.total_trades else None
        table.add_section()
        table.add_row("[bold]total[/bold]", str(report.total_trades), str(report.total_wins),
                      f"{rate:.0%}" if rate is not None else "-", _pnl_cell(report.total_pnl),
                      won(report.total_pnl / report.total_trades) if report.total_trades else "-",
                      won(min((s.max_loss for s in report.summaries), default=0)),
                      f"{sum(s.fees + s.taxes for s in report.summaries):,}", "")
    return table


def trades_table(report: DailyReport, limit: int = 30) -> Table:
    table = Table(title=f"Closed trades (last {limit})")
    for name in ("worker", "symbol", "qty", "entry", "exit", "reason", "PnL"):
        table.add_column(name, justify="left" if name in ("worker", "symbol", "reason")
                         else "right")
    for t in report.trades[-limit:]:
        table.add_row(t.worker_id, t.symbol, f"{t.qty:,}", f"{t.entry_price:,.0f}",
                      f"{t.exit_price:,.0f}" if t.exit_price is not None else "-",
                      t.exit_reason or "-", _pnl_cell(t.realized_pnl))
    return table
