"""A self-contained HTML page of a daily report: equity curve and PnL per trade (plotly).

plotly.js is embedded in the page so it opens offline, as a trading desk machine often is.

Time axis: the session's KST clock. The rows carry the database's wall time (``exit_at`` is
``now()`` when the position closed), which in a demo or a simulated day is not the session
time: the fleet runs on a compressed ``SimClock``. Given that clock (its three numbers, as the
demo hands ``TRADEFLEET_SIM_CLOCK`` to every process), each wall time is mapped to the KST time
the session clock showed at that instant, exactly as ``SimClock.now()`` computes it. Without
one (a real trading day) the wall time is the session time. Either way the axis shows KST
digits: plotly drops time zones, so an aware UTC time from the database would otherwise be
drawn nine hours early."""

from __future__ import annotations

import html
from datetime import datetime
from itertools import accumulate
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.report_queries import DailyReport


def session_time(wall: datetime, clock: SimClock | None = None) -> datetime:
    """The KST time the session clock showed at wall time ``wall``, naive (for plotting)."""
    if wall.tzinfo is None:
        raise ValueError("wall: must be timezone-aware")
    if clock is not None:
        wall = clock.at_real(wall.timestamp())
    return wall.astimezone(SEOUL).replace(tzinfo=None)


def build_figure(report: DailyReport, session_clock: SimClock | None = None) -> go.Figure:
    axis = "KST, session clock" if session_clock is not None else "KST"
    fig = make_subplots(rows=2, cols=1, subplot_titles=(
        f"Equity curve (cumulative realized PnL, won; {axis})", "PnL per trade (won)"),
        vertical_spacing=0.15)
    closed = [(session_time(t.exit_at, session_clock), t) for t in report.trades
              if isinstance(t.exit_at, datetime)]
    for worker in sorted({t.worker_id for _, t in closed}):
        own = [(at, t) for at, t in closed if t.worker_id == worker]
        fig.add_trace(go.Scatter(
            x=[at for at, _ in own], y=list(accumulate(t.realized_pnl for _, t in own)),
            mode="lines+markers", name=worker, line={"shape": "hv"}), row=1, col=1)
    if closed:
        fig.add_trace(go.Scatter(
            x=[at for at, _ in closed], y=list(accumulate(t.realized_pnl for _, t in closed)),
            mode="lines", name="fleet total", line={"width": 3, "shape": "hv"}), row=1, col=1)
    fig.add_trace(go.Bar(
        x=[f"{i + 1}. {t.symbol} ({t.worker_id})" for i, (_, t) in enumerate(closed)],
        y=[t.realized_pnl for _, t in closed],
        marker_color=["#2ca02c" if t.realized_pnl > 0 else "#d62728" for _, t in closed],
        name="trade PnL", showlegend=False,
        hovertext=[f"{at:%H:%M:%S} KST {t.exit_reason or ''}".strip() for at, t in closed]),
        row=2, col=1)
    fig.update_xaxes(title_text=axis, tickformat="%H:%M", row=1, col=1)
    fig.update_layout(height=800, title=f"tradefleet — {report.trading_day}",
                      template="plotly_white")
    return fig


def write_html(report: DailyReport, path: Path, *,
               session_clock: SimClock | None = None) -> Path:
    fig = build_figure(report, session_clock)
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
