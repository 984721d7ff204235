"""The demo's live view: what a person watching the fleet sees in each column."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from rich.console import Console

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.fleet_view import WorkerView
from tradefleet.adapters.report.tables import won
from tradefleet.local_fleet.dashboard import SessionProgress, render

OPEN = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
CLOSE = datetime(2026, 11, 24, 15, 30, tzinfo=SEOUL)


def _text(renderable) -> str:  # noqa: ANN001
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_live_view_shows_each_worker_position_pnl_token_and_session_progress():
    holding = WorkerView(worker_id="w1", status="HOLD", current_symbol="005930", pid=11,
                         qty=37, entry_price=Decimal("71200"), fencing_token=42,
                         last_price=71900, realized_pnl=-12_345, trades=3,
                         heartbeat_age=0.4)
    scanning = WorkerView(worker_id="w2", status="SCAN", current_symbol=None, pid=12,
                          qty=None, entry_price=None, fencing_token=None, last_price=None,
                          realized_pnl=0, trades=0, heartbeat_age=1.2)
    progress = SessionProgress(OPEN, CLOSE)
    half = OPEN + (CLOSE - OPEN) / 2
    progress.update(half)
    text = _text(render(progress, [holding, scanning], {"w1": True, "w2": False}))

    w1 = next(line for line in text.splitlines() if "w1" in line)
    unrealized = (holding.last_price - holding.entry_price) * holding.qty
    assert holding.unrealized_pnl == unrealized
    for cell in ("HOLD", "005930", f"{holding.qty:,}", f"{holding.entry_price:,.0f}",
                 f"{holding.last_price:,}", won(holding.unrealized_pnl),
                 won(holding.realized_pnl), str(holding.fencing_token), "0.4s"):
        assert cell in w1, (cell, w1)
    assert "(exited)" not in w1
    w2 = next(line for line in text.splitlines() if "w2" in line)
    assert "SCAN" in w2 and "(exited)" in w2          # its process is gone
    assert half.strftime("%H:%M:%S KST") in text and "50%" in text


def test_progress_stays_between_open_and_close():
    progress = SessionProgress(OPEN, CLOSE)
    progress.update(OPEN - timedelta(minutes=2))        # the demo starts before the open
    assert "0%" in _text(progress.progress)
    progress.update(CLOSE + timedelta(minutes=5))
    assert "100%" in _text(progress.progress)


def test_live_view_marks_the_feed_live_or_polling():
    from tradefleet.local_fleet.dashboard import feed_line

    progress = SessionProgress(OPEN, CLOSE)
    live = _text(render(progress, [], {}, feed_line(("w2:4242", 0.25))))
    assert "feed: live" in live and "held by w2," in live and "0.2s ago" in live
    assert "4242" not in live                       # the holder's pid is not shown
    polling = _text(render(progress, [], {}, feed_line(None)))
    assert "feed: polling" in polling and "feed: live" not in polling
    assert "feed:" not in _text(render(progress, [], {}))   # a fleet without the feed
