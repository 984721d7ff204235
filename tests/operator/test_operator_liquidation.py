"""The liquidation schedule's calendar logic, with the real KRX calendar: close - offset on
a normal day and on a late-close special day, nothing on a closed day, the check after the
close, and when to wake up."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.operator.liquidation import decide, firing_of, next_firing
from tradefleet.operator.resources import parse_schedule_spec
from tradefleet.ports.liquidation_runs import LiquidationRun

NORMAL = date(2026, 11, 24)
CSAT = date(2026, 11, 19)          # 10:00-16:30 (shipped overrides)
SUNDAY = date(2026, 11, 22)
HOLIDAY = date(2026, 6, 3)         # local elections (shipped overrides)


@pytest.fixture(scope="module")
def calendar():  # noqa: ANN201
    return load_krx_calendar()


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SEOUL)


def test_firing_is_close_minus_offset_special_hours_included_and_none_when_closed(calendar):
    assert firing_of(calendar, NORMAL, 15).at == at(NORMAL, 15, 15)
    assert firing_of(calendar, NORMAL, 12).close == at(NORMAL, 15, 30)
    assert firing_of(calendar, CSAT, 15).at == at(CSAT, 16, 15)
    assert firing_of(calendar, SUNDAY, 15) is None
    assert firing_of(calendar, HOLIDAY, 15) is None
    # never inside the closing auction: an offset under 10 minutes fires at its start
    assert firing_of(calendar, NORMAL, 5).at == at(NORMAL, 15, 20)


def test_next_firing_skips_closed_days_and_keeps_a_due_unfired_one(calendar):
    assert next_firing(calendar, at(SUNDAY, 10, 0), 15, False).at == \
        at(date(2026, 11, 23), 15, 15)
    assert next_firing(calendar, at(NORMAL, 15, 20), 15, False).at == at(NORMAL, 15, 15)
    assert next_firing(calendar, at(NORMAL, 15, 20), 15, True).at == \
        at(date(2026, 11, 25), 15, 15)
    assert next_firing(calendar, at(NORMAL, 15, 40), 15, False).at == \
        at(date(2026, 11, 25), 15, 15)


def _run(day: date, checked: bool = False) -> LiquidationRun:
    return LiquidationRun("s", day, at(day, 15, 15), at(day, 15, 15), ("w-1",),
                          checked_at=at(day, 15, 35) if checked else None)


def test_decide_fires_once_checks_once_and_sleeps_until_due(calendar):
    spec = parse_schedule_spec({})
    before = decide(spec, calendar, at(NORMAL, 15, 14, 30), None)
    assert before.fire is None and before.wake_in == 30
    due = decide(spec, calendar, at(NORMAL, 15, 15, 1), None)
    assert due.fire is not None and due.fire.at == at(NORMAL, 15, 15) and due.check is None
    assert decide(spec, calendar, at(NORMAL, 15, 16), _run(NORMAL)).fire is None
    late = decide(spec, calendar, at(NORMAL, 15, 31), None)
    assert late.fire is None                    # past the close: nothing to order any more
    check = decide(spec, calendar, at(NORMAL, 15, 35), _run(NORMAL))
    assert check.check is not None and check.fire is None
    done = decide(spec, calendar, at(NORMAL, 15, 36), _run(NORMAL, checked=True))
    assert done.check is None and done.wake_in == 60
    waiting = decide(spec, calendar, at(NORMAL, 15, 34, 50), _run(NORMAL))
    assert waiting.check is None and waiting.wake_in == 10
    suspended = parse_schedule_spec({"suspend": True})
    assert decide(suspended, calendar, at(NORMAL, 15, 16), None).fire is None
    assert decide(spec, calendar, at(SUNDAY, 15, 16), None) == \
        decide(spec, calendar, at(SUNDAY, 15, 16), None)
    assert decide(spec, calendar, at(SUNDAY, 15, 16), None).fire is None


def test_the_special_day_fires_an_hour_later(calendar):
    spec = parse_schedule_spec({"offsetMinutes": 15})
    assert decide(spec, calendar, at(CSAT, 15, 16), None).fire is None
    fired = decide(spec, calendar, at(CSAT, 16, 15), None).fire
    assert fired is not None and fired.close == at(CSAT, 16, 30)
    assert decide(spec, calendar, at(CSAT, 16, 15) - timedelta(seconds=1), None).wake_in == 1
