"""KRX sessions and the forced-liquidation time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tradefleet.domain.calendar import SEOUL, liquidation_time, load_krx_calendar, regular_session
from tradefleet.domain.errors import ConfigError

FIFTEEN = timedelta(minutes=15)


@pytest.fixture(scope="module")
def cal():
    return load_krx_calendar()


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SEOUL)


def test_normal_day_session_and_liquidation(cal):
    day = date(2026, 11, 24)  # an ordinary Tuesday
    s = cal.session(day)
    assert (s.open, s.close, s.closing_auction_start) == (
        at(day, 9, 0), at(day, 15, 30), at(day, 15, 20))
    assert s.open.utcoffset() == timedelta(hours=9)
    assert cal.liquidation_time(day, FIFTEEN) == at(day, 15, 15)


@pytest.mark.parametrize("day", [date(2024, 11, 14), date(2025, 11, 13), date(2026, 11, 19)])
def test_exam_day_late_session(cal, day):
    s = cal.session(day)
    assert (s.open, s.close, s.closing_auction_start) == (
        at(day, 10, 0), at(day, 16, 30), at(day, 16, 20))
    assert cal.liquidation_time(day, FIFTEEN) == at(day, 16, 15)


def test_first_trading_day_opens_late(cal):
    assert cal.session(date(2026, 1, 2)).open == at(date(2026, 1, 2), 10, 0)


@pytest.mark.parametrize(
    "day",
    [date(2026, 6, 3),    # local elections: override holiday (XKRX lists it as a session)
     date(2024, 4, 10),   # general election
     date(2025, 1, 27),   # temporary holiday
     date(2025, 12, 25),  # regular holiday
     date(2026, 11, 22)], # Sunday
)
def test_non_session_days(cal, day):
    assert cal.session(day) is None
    assert cal.liquidation_time(day, FIFTEEN) is None


def test_liquidation_never_inside_closing_auction(cal):
    day = date(2026, 11, 24)
    assert cal.liquidation_time(day, timedelta(minutes=5)) == at(day, 15, 20)
    assert cal.liquidation_time(day, timedelta(0)) == at(day, 15, 20)
    assert cal.liquidation_time(day, timedelta(minutes=30)) == at(day, 15, 0)


def test_extra_overrides_file(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "holidays:\n  - date: 2026-11-24\n    reason: test\n"
        "special_sessions:\n  - date: 2026-11-25\n    open: '10:00'\n    close: '15:00'\n"
    )
    cal = load_krx_calendar(extra_overrides=extra)
    assert cal.session(date(2026, 11, 24)) is None
    assert cal.liquidation_time(date(2026, 11, 25), FIFTEEN) == at(date(2026, 11, 25), 14, 45)
    # The shipped overrides still apply.
    assert cal.session(date(2026, 6, 3)) is None


def test_bad_override_names_the_field(tmp_path):
    extra = tmp_path / "bad.yaml"
    extra.write_text("special_sessions:\n  - date: 2026-11-25\n    open: 'ten'\n")
    with pytest.raises(ConfigError, match=r"special_sessions\[0\]\.open"):
        load_krx_calendar(extra_overrides=extra)


def test_closed_days_say_why(cal):
    assert "local elections (calendar override)" in cal.closed_reason(date(2026, 6, 3))
    assert cal.closed_reason(date(2026, 11, 22)) == "weekend"
    assert cal.closed_reason(date(2025, 12, 25)) == "KRX holiday (exchange_calendars XKRX)"


def test_known_days_and_unknown_days(cal):
    table = cal.table
    assert cal.knows(table.first) and cal.knows(table.last)
    assert cal.knows(date(2026, 11, 22))                 # a weekend in range: known, closed
    beyond = table.last + timedelta(days=400)
    assert not cal.knows(beyond) and cal.session(beyond) is None
    assert "not in the KRX calendar" in cal.closed_reason(beyond)


def test_an_operator_override_wins_over_a_shipped_one(tmp_path):
    extra = tmp_path / "extra.yaml"      # the shipped 2026-06-03 holiday turns out wrong
    extra.write_text("special_sessions:\n  - date: 2026-06-03\n    open: '09:00'\n"
                     "    close: '15:30'\n")
    cal = load_krx_calendar(extra_overrides=extra)
    assert cal.session(date(2026, 6, 3)).open == at(date(2026, 6, 3), 9, 0)


def test_regular_session_and_liquidation_for_an_unknown_day():
    day = date(2040, 3, 6)
    s = regular_session(day)
    assert (s.open, s.close) == (at(day, 9, 0), at(day, 15, 30))
    assert liquidation_time(s, FIFTEEN) == at(day, 15, 15)
    with pytest.raises(ValueError, match="offset"):
        liquidation_time(s, timedelta(minutes=-1))
