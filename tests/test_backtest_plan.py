"""Which recorded days a backtest runs (the KRX calendar's word and the data's), and how a
day's trades are summed (issue 21, item 2)."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.domain.errors import ConfigError
from tradefleet.replay.backtest import plan_days
from tradefleet.replay.backtest_summary import figures
from tradefleet.replay.day_format import QUOTES_FILE, write_day
from tradefleet.replay.sim_source import record_sim_day

TUESDAY, WEDNESDAY, SATURDAY, SUNDAY = (date(2026, 11, 24), date(2026, 11, 25),
                                      date(2026, 11, 28), date(2026, 11, 29))
FRIDAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("days")
    write_day(folder, record_sim_day(7, 2, TUESDAY))
    write_day(folder, record_sim_day(7, 2, WEDNESDAY, session_close=time(15, 0)))
    write_day(folder, record_sim_day(7, 2, SATURDAY))        # KRX does not trade Saturdays
    (write_day(folder, record_sim_day(7, 2, FRIDAY)) / QUOTES_FILE).unlink()   # bars only
    return folder


def test_only_a_recorded_krx_session_with_the_calendars_hours_runs(data: Path) -> None:
    calendar = krx_calendar(SUNDAY)
    assert calendar.session(SATURDAY) is None and calendar.session(WEDNESDAY) is not None
    planned = {p.day: p for p in plan_days(data, TUESDAY, SUNDAY, calendar)}
    assert [d for d, p in planned.items() if p.folder is not None] == [TUESDAY, FRIDAY]
    assert planned[WEDNESDAY].skipped.startswith("recorded 09:00-15:00, KRX's session 09:00-")
    assert planned[SATURDAY].skipped.startswith("KRX closed: ")
    assert planned[date(2026, 11, 26)].skipped == "no recording"
    assert planned[FRIDAY].note.startswith("bars only")        # runs on quotes from bars
    assert SUNDAY not in planned                  # a Sunday without data: silent


def test_a_range_backwards_is_refused_by_the_flag(data: Path) -> None:
    with pytest.raises(ConfigError, match="^--to: "):
        plan_days(data, WEDNESDAY, TUESDAY, krx_calendar(WEDNESDAY))


def _trade(pnl: int | None, costs: int = 100, *, bought: int = 10) -> dict[str, object]:
    return {"status": "OPEN" if pnl is None else "CLOSED", "bought_qty": bought,
            "exit_reason": None if pnl is None else "STOP_LOSS", "realized_pnl": pnl,
            "fees": costs, "taxes": 0 if pnl is None else costs}


def test_a_days_figures_count_closed_trades_and_the_worst_loss() -> None:
    never_filled = {**_trade(0, 0, bought=0), "exit_reason": None}
    rows = [_trade(1_500), _trade(-700), _trade(-300), _trade(None), never_filled]
    f = figures("d", rows)
    closed = [r for r in rows if r["exit_reason"]]
    assert f.trades == len(closed) and f.left_open == 1
    assert f.pnl == sum(int(r["realized_pnl"]) for r in closed)          # type: ignore[arg-type]
    assert f.wins == sum(1 for r in closed if int(r["realized_pnl"]) > 0)  # type: ignore[arg-type]
    assert f.max_loss == min(int(r["realized_pnl"]) for r in closed)     # type: ignore[arg-type]
    assert f.costs == sum(int(r["fees"]) + int(r["taxes"]) for r in closed)  # type: ignore
    assert figures("d", [_trade(900)]).max_loss == 0                      # no loss, no max loss
