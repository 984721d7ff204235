"""The calendar side of the liquidation schedule, as plain functions: when the forced
liquidation of a session day fires (close - offset, by the same calendar code the workers
use: special hours included, nothing on closed days), when the fleet is checked flat after
the close, and when to look again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tradefleet.operator.resources import LiquidationScheduleSpec
from tradefleet.ports.liquidation_runs import LiquidationRun

HORIZON_DAYS = 400          # how far ahead the next session is looked for
MAX_SLEEP_S = 60.0          # the schedule is re-read at least this often


@dataclass(frozen=True, slots=True)
class Firing:
    day: date
    at: datetime            # close - offset
    close: datetime


@dataclass(frozen=True, slots=True)
class Step:
    fire: Firing | None     # order the liquidation now
    check: Firing | None    # check the fleet flat now
    wake_in: float          # seconds until something may be due


def firing_of(calendar: Any, day: date, offset_minutes: int) -> Firing | None:
    session = calendar.session(day)
    if session is None:
        return None
    at = calendar.liquidation_time(day, timedelta(minutes=offset_minutes))
    return None if at is None else Firing(day, at, session.close)


def next_firing(calendar: Any, now: datetime, offset_minutes: int,
                fired_today: bool) -> Firing | None:
    """The next liquidation to fire: today's if it is still to come (or due and not fired
    before the close), else the next session day's."""
    for days in range(HORIZON_DAYS):
        firing = firing_of(calendar, now.date() + timedelta(days=days), offset_minutes)
        if firing is None:
            continue
        if firing.at > now or (days == 0 and not fired_today and now < firing.close):
            return firing
    return None


def decide(spec: LiquidationScheduleSpec, calendar: Any, now: datetime,
           run_today: LiquidationRun | None) -> Step:
    today = firing_of(calendar, now.date(), spec.offset_minutes)
    fire = check = None
    moments: list[datetime] = []
    if today is not None:
        check_at = today.close + timedelta(minutes=spec.check_after_close_minutes)
        if run_today is None and not spec.suspend:
            if today.at <= now < today.close:
                fire = today
            elif now < today.at:
                moments.append(today.at)
        fired = run_today is not None or fire is not None
        if fired and (run_today is None or run_today.checked_at is None):
            if now >= check_at:
                check = today
            else:
                moments.append(check_at)
    upcoming = next_firing(calendar, now, spec.offset_minutes, fired_today=True)
    if upcoming is not None:
        moments.append(upcoming.at)
    wake = min([(m - now).total_seconds() for m in moments if m > now], default=MAX_SLEEP_S)
    return Step(fire, check, max(0.5, min(MAX_SLEEP_S, wake)))
