"""The demo's per-worker feed mark (``local_fleet/feed_marks.py``): what each worker last said
of its feed in its own log, read incrementally, and the live table's ``feed`` column."""

from __future__ import annotations

import json

from rich.console import Console

from tradefleet.adapters.postgres.fleet_view import WorkerView
from tradefleet.local_fleet.dashboard import worker_table
from tradefleet.local_fleet.feed_marks import LIVE, POLLING, STOPPED, FeedMarks


def _line(event: str, **kw) -> str:  # noqa: ANN003
    return json.dumps({"event": event, "logger": "tradefleet.worker", **kw}) + "\n"


def _view(wid: str) -> WorkerView:
    return WorkerView(worker_id=wid, status="SCAN", current_symbol=None, pid=1, qty=None,
                      entry_price=None, fencing_token=None, last_price=None, realized_pnl=0,
                      trades=0, heartbeat_age=0.1)


def _text(table) -> str:  # noqa: ANN001
    console = Console(record=True, width=220, color_system=None)
    console.print(table)
    return console.export_text()


def test_each_worker_is_marked_by_what_it_last_said_read_as_its_log_grows(tmp_path):
    w1, w2 = tmp_path / "w1.log", tmp_path / "w2.log"
    w1.write_text(_line("WorkerStartedEvent") + _line(POLLING, why="holder 1: not connected"))
    w2.write_text("not json at all\n" + _line("feed enabled: ticks heard beside the poll"))
    marks = FeedMarks()
    logs = {"w1": w1, "w2": w2, "w3": tmp_path / "w3.log"}       # w3 has no log yet
    assert marks.read(logs) == {"w1": "polling"}
    with w1.open("a") as f:
        f.write(_line(LIVE, why="holder 1: 0 registrations"))
        f.write(_line(POLLING)[:20])                               # still being written
    assert marks.read(logs)["w1"] == "live"                        # the partial line waits
    with w1.open("a") as f:
        f.write(_line(POLLING)[20:])
    with w2.open("a") as f:
        f.write(_line(LIVE) + _line(STOPPED))
    assert marks.read(logs) == {"w1": "polling", "w2": "stopped"}
    assert marks.read(logs) == {"w1": "polling", "w2": "stopped"}  # nothing new: unchanged


def test_the_live_table_shows_each_workers_feed_mark_only_when_the_fleet_has_a_feed():
    rows = [_view("w1"), _view("w2"), _view("w3")]
    text = _text(worker_table(rows, {"w1": True, "w2": True, "w3": True},
                              {"w1": "live", "w2": "polling"}))
    header = next(line for line in text.splitlines() if "worker" in line)
    assert header.rstrip(" ┃│").endswith("feed"), header
    lines = {w: next(line for line in text.splitlines() if f" {w} " in line) for w in
             ("w1", "w2", "w3")}
    assert lines["w1"].rstrip(" │").endswith("live")
    assert lines["w2"].rstrip(" │").endswith("polling")
    assert lines["w3"].rstrip(" │").endswith("-")                # it has said nothing yet
    plain = _text(worker_table(rows, {"w1": True}))
    assert "feed" not in plain and "live" not in plain
