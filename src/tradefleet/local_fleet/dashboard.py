"""The live terminal view of a local fleet: a worker table and a session progress bar."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from tradefleet.adapters.postgres.fleet_view import WorkerView
from tradefleet.adapters.report.tables import won

_STATUS_STYLE = {"IDLE": "dim", "SCAN": "cyan", "HOLD": "bold yellow", "EXIT": "dim"}
_FEED_STYLE = {"live": "green", "polling": "yellow", "stopped": "dim"}


def worker_table(rows: list[WorkerView], alive: dict[str, bool],
                 feed_marks: dict[str, str] | None = None) -> Table:
    """``feed_marks``: each worker's feed mode (``feed_marks.py``), a column of its own; None
    when the fleet runs without the feed."""
    table = Table(expand=True)
    names = ["worker", "state", "symbol", "qty", "entry", "last", "unrealized", "realized",
             "trades", "lock token", "heartbeat"]
    if feed_marks is not None:
        names.append("feed")
    for name in names:
        table.add_column(name, justify="left" if name in ("worker", "state", "symbol")
                         else "right")
    for r in rows:
        feed = []
        if feed_marks is not None:
            mark = feed_marks.get(r.worker_id, "-")
            feed = [f"[{_FEED_STYLE[mark]}]{mark}[/{_FEED_STYLE[mark]}]"
                    if mark in _FEED_STYLE else mark]
        style = _STATUS_STYLE.get(r.status, "")
        proc = "" if alive.get(r.worker_id, False) else " [dim](exited)[/dim]"
        table.add_row(
            r.worker_id + proc, f"[{style}]{r.status}[/{style}]" if style else r.status,
            r.current_symbol or "-", f"{r.qty:,}" if r.qty else "-",
            f"{r.entry_price:,.0f}" if r.entry_price is not None else "-",
            f"{r.last_price:,}" if r.last_price else "-",
            won(r.unrealized_pnl), won(r.realized_pnl), str(r.trades),
            str(r.fencing_token) if r.fencing_token else "-", f"{r.heartbeat_age:4.1f}s", *feed)
    return table


class SessionProgress:
    """Progress through the simulated session, from the open to the close."""

    def __init__(self, open_at: datetime, close_at: datetime) -> None:
        self.open_at = open_at
        self.close_at = close_at
        self.progress = Progress(TextColumn("[bold]session[/bold] {task.description}"),
                                 BarColumn(bar_width=None),
                                 TextColumn("{task.percentage:>3.0f}%"), expand=True)
        self.task = self.progress.add_task("", total=(close_at - open_at).total_seconds())

    def update(self, now: datetime) -> None:
        done = min(max((now - self.open_at).total_seconds(), 0.0),
                   (self.close_at - self.open_at).total_seconds())
        self.progress.update(self.task, completed=done,
                             description=now.strftime("%H:%M:%S KST"))


def feed_line(holder: tuple[str, float] | None) -> str:
    """The account's feed (``demo --feed``): who holds it, or that every worker polls."""
    if holder is None:
        return "[yellow]feed: polling[/yellow] (no live feed holder: exits on the poll)"
    holder_id, age = holder
    return (f"[green]feed: live[/green] (held by {holder_id.split(':')[0]}, renewed "
            f"{age:.1f}s ago: exits on each tick)")


def render(progress: SessionProgress, rows: list[WorkerView], alive: dict[str, bool],
           feed: str | None = None, feed_marks: dict[str, str] | None = None) -> Group:
    """``feed``: the feed's line (``feed_line``), or None when the fleet runs without it;
    ``feed_marks``: each worker's own mode, live or polling."""
    parts = [progress.progress, worker_table(rows, alive, feed_marks)]
    if feed is not None:
        parts.append(Text.from_markup(feed))     # its own line, the next print below
    return Group(*parts)
