"""A self-contained HTML page of a daily report: equity curve and PnL per trade (plotly).

plotly.js is embedded in the page so it opens offline, as a trading desk machine often is.
"""

from __future__ import annotations

import html
from itertools import accumulate
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradefleet.adapters.postgres.report_queries import DailyReport


def build_figure(report: DailyReport) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, subplot_titles=(
        "Equity curve (cumulative realized PnL, won)", "PnL per trade (won)"),
        vertical_spacing=0.15)
    trades = [t for t in report.trades if t.exit_at is not None]
    workers = sorted({t.worker_id for t in trades})
    for worker in workers:
        own = [t for t in trades if t.worker_id == worker]
        fig.add_trace(go.Scatter(
            x=[t.exit_at for t in own], y=list(accumulate(t.realized_pnl for t in own)),
            mode="lines+markers", name=worker, line={"shape": "hv"}), row=1, col=1)
    if trades:
        fig.add_trace(go.Scatter(
            x=[t.exit_at for t in trades], y=list(accumulate(t.realized_pnl for t in trades)),
            mode="lines", name="fleet total", line={"width": 3, "shape": "hv"}), row=1, col=1)
    fig.add_trace(go.Bar(
        x=[f"{i + 1}. {t.symbol} ({t.worker_id})" for i, t in enumerate(trades)],
        y=[t.realized_pnl for t in trades],
        marker_color=["#2ca02c" if t.realized_pnl > 0 else "#d62728" for t in trades],
        name="trade PnL", showlegend=False,
        hovertext=[t.exit_reason or "" for t in trades]), row=2, col=1)
    fig.update_layout(height=800, title=f"tradefleet — {report.trading_day}",
                      template="plotly_white")
    return fig


def write_html(report: DailyReport, path: Path) -> Path:
    fig = build_figure(report)
    rows = "".join(
        f"<tr><td>{html.escape(s.worker_id)}</td><td>{s.trades_count}</td>"
        f"<td>{s.win_count}</td><td>{s.realized_pnl:+,}</td><td>{s.max_loss:,}</td></tr>"
        for s in report.summaries)
    table = ("<table border=1 cellpadding=4><tr><th>worker</th><th>trades</th><th>wins</th>"
             f"<th>realized PnL</th><th>max loss</th></tr>{rows}"
             f"<tr><th>total</th><th>{report.total_trades}</th><th>{report.total_wins}</th>"
             f"<th>{report.total_pnl:+,}</th><th></th></tr></table>")
    body = fig.to_html(full_html=False, include_plotlyjs=True)
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>tradefleet report {report.trading_day}</title></head><body>"
        f"<h1>tradefleet daily report {report.trading_day}</h1>{table}{body}</body></html>",
        encoding="utf-8")
    return path
