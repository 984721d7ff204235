"""The HTML report's time axis is the session's KST clock: wall times from the database are
mapped through the demo's ``SimClock``, and are drawn in KST digits either way."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.test_report import _seed

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.report_queries import fetch_daily_report
from tradefleet.adapters.report.html import build_figure, session_time, write_html

WALL_START = datetime(2026, 11, 23, 9, 30, tzinfo=SEOUL)   # _seed: exits at +10, +20 min


async def test_equity_curve_is_on_the_session_clock(db, tmp_path) -> None:
    await _seed(db, [("w1", "005930", 1500), ("w1", "000660", -700)])
    report = await fetch_daily_report(db)
    assert all(t.exit_at.utcoffset().total_seconds() == 0 for t in report.trades)   # UTC rows

    wall = build_figure(report)
    assert list(wall.data[0].x) == [datetime(2026, 11, 23, 9, 40), datetime(2026, 11, 23, 9, 50)]

    # a demo clock: 09:00 KST at the instant of WALL_START, six session seconds a second
    clock = SimClock(datetime(2026, 11, 23, 9, 0, tzinfo=SEOUL), 6.0, WALL_START.timestamp())
    fig = build_figure(report, clock)
    session = [datetime(2026, 11, 23, 10, 0), datetime(2026, 11, 23, 11, 0)]
    assert list(fig.data[0].x) == session                 # the worker's curve
    assert list(fig.data[1].x) == session                 # the fleet total
    assert list(fig.data[2].hovertext) == ["10:00:00 KST TAKE_PROFIT", "11:00:00 KST TAKE_PROFIT"]
    assert "session clock" in fig.layout.xaxis.title.text
    text = write_html(report, tmp_path / "r.html", session_clock=clock).read_text()
    assert "2026-11-23T10:00:00" in text and "2026-11-23T09:40:00" not in text


def test_session_time_is_what_the_sim_clock_showed() -> None:
    clock = SimClock(datetime(2026, 11, 23, 9, 0, tzinfo=SEOUL), 60.0, 1_000_000.0)
    for offset, shown in ((0.0, datetime(2026, 11, 23, 9, 0)),
                          (1.5, datetime(2026, 11, 23, 9, 1, 30)),
                          (390.0, datetime(2026, 11, 23, 15, 30))):
        wall = datetime.fromtimestamp(1_000_000.0 + offset, SEOUL)
        assert session_time(wall, clock) == shown
    with pytest.raises(ValueError, match="wall"):
        session_time(datetime(2026, 11, 23, 9, 0), clock)


async def test_report_command_plots_the_session_clock_the_demo_recorded(db, pg_dsn,
                                                                        tmp_path) -> None:
    import argparse

    from rich.console import Console

    from tradefleet.adapters.postgres.session_clock_store import (
        load_session_clock,
        save_session_clock,
    )
    from tradefleet.commands.report import _report

    await _seed(db, [("w1", "005930", 1500), ("w1", "000660", -700)])
    report = await fetch_daily_report(db)
    clock = SimClock(datetime(2026, 11, 23, 9, 0, tzinfo=SEOUL), 6.0, WALL_START.timestamp())
    await save_session_clock(db, report.trading_day, clock)
    assert (await load_session_clock(db, report.trading_day)).to_env() == clock.to_env()
    out = tmp_path / "cmd.html"
    args = argparse.Namespace(dsn=pg_dsn, date=None, html=out)
    assert await _report(args, Console(file=open(tmp_path / "out.txt", "w"))) == 0  # noqa: SIM115
    text = out.read_text()
    assert "2026-11-23T10:00:00" in text and "2026-11-23T09:40:00" not in text
