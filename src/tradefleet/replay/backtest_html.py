"""A backtest's report as one self-contained HTML page (plotly.js embedded, as the daily
report's): the equity curve and its drawdown on the session clock, the headline figures
with the parameter version, then per-day, tuning (SC-011) and per-trade tables. Each table
has an id (``summary``, ``days``, ``tuning``, ``filters``, ``trades``) for whoever reads the
page by machine. Plotly drops time zones: the axis gets KST digits (naive), as
``adapters/report/html`` does."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradefleet.replay.backtest_report import BacktestReport


def _cell(value: object) -> str:
    return html.escape("-" if value is None else str(value))


def _won(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_cell(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return (f"<table id='{table_id}' border=1 cellpadding=4><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def build_figure(report: BacktestReport) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Equity (cumulative realized PnL after fees and tax, "
                                        "won; KST, session clock)", "Drawdown (won)"))
    xs = [at.replace(tzinfo=None) for at, _ in report.equity]
    fig.add_trace(go.Scatter(x=xs, y=[v for _, v in report.equity], mode="lines+markers",
                             name="equity", line={"shape": "hv"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[v for _, v in report.drawdown], mode="lines",
                             name="drawdown", fill="tozeroy", line={"shape": "hv",
                                                                    "color": "#d62728"}),
                  row=2, col=1)
    fig.update_xaxes(tickformat="%m-%d %H:%M")
    fig.update_layout(height=700, title=report.title, template="plotly_white")
    return fig


def _summary(report: BacktestReport) -> str:
    t = report.total
    return _table("summary", ("figure", "value"), [
        ("parameter version", ", ".join(report.versions) or "-"),
        ("days", len(report.days)), ("trades", t.trades), ("wins", t.wins),
        ("win rate", t.win_rate), ("PnL (won)", _won(t.pnl)),
        ("average PnL (won)", report.avg_pnl), ("max loss (won)", _won(t.max_loss)),
        ("max drawdown (won)", _won(report.max_drawdown)), ("fees+tax (won)", f"{t.costs:,}"),
        ("left open at the close", t.left_open)])


def _tuning(report: BacktestReport) -> str:
    rows = [(f.label, f.adverse_fills, f.adverse_ticks, f.liquidations,
             _won(f.liquidation_widened), f.shortfalls, f.unsold_qty)
            for f in [*report.tuning_days, report.tuning_total]]
    return _table("tuning", ("day", "adverse fills", "adverse ticks", "forced sales noted",
                             "widened by forced sale (won)", "shortfalls", "unsold shares"),
                  rows)


def _filters(report: BacktestReport) -> str:
    rows = [(name, n, wins, f"{100 * wins / n:.1f}%" if n else "-", _won(pnl))
            for name, (n, wins, pnl) in report.tuning_total.filters.items()]
    return _table("filters", ("trades by", "trades", "wins", "win rate",
                              "PnL (won)"), rows)


def render(report: BacktestReport) -> str:
    days = _table("days", ("day", "trades", "wins", "win rate", "PnL (won)", "fees+tax",
                           "max loss", "open"),
                  [(d.label, d.trades, d.wins, d.win_rate, _won(d.pnl), f"{d.costs:,}",
                    _won(d.max_loss), d.left_open) for d in [*report.days, report.total]])
    trades = _table("trades", ("day", "worker", "symbol", "qty", "entry (KST)", "entry price",
                               "exit (KST)", "exit price", "reason", "PnL (won)"),
                    [(t.day, t.worker_id, t.symbol, t.qty,
                      f"{t.entry_at:%H:%M:%S}" if t.entry_at else None, t.entry_price,
                      f"{t.exit_at:%H:%M:%S}" if t.exit_at else None, t.exit_price,
                      t.exit_reason, _won(t.pnl)) for t in report.trades])
    skipped = (f"<p>skipped: {_cell('; '.join(report.skipped))}</p>" if report.skipped
               else "")
    # a fixed element id (plotly's default is a random uuid): the same backtest writes the
    # same bytes, for any --jobs
    chart = build_figure(report).to_html(full_html=False, include_plotlyjs=True,
                                         div_id="backtest-chart")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{_cell(report.title)}</title></head><body>"
            f"<h1>{_cell(report.title)}</h1>{_summary(report)}{chart}"
            f"<h2>Days</h2>{days}{skipped}"
            f"<h2>Next-day tuning notes (SC-011), over the days</h2>{_tuning(report)}"
            f"<h3>Trades by exit reason and by spread at entry</h3>{_filters(report)}"
            f"<h2>Trades</h2>{trades}</body></html>")


def write_backtest_html(report: BacktestReport, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path
