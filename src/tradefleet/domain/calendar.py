"""KRX trading calendar: which days trade, when they open and close, when to liquidate.

Built on exchange_calendars' XKRX, corrected by a shipped YAML of overrides (elections,
ad-hoc holidays, exam-day hours) that can be extended from a config path, because the
library lags behind government announcements and real money depends on the dates.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tradefleet.domain.errors import ConfigError

SEOUL = ZoneInfo("Asia/Seoul")
CLOSING_AUCTION = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class TradingSession:
    day: date
    open: datetime
    close: datetime
    closing_auction_start: datetime


@dataclass(frozen=True, slots=True)
class CalendarOverrides:
    holidays: frozenset[date]
    special_hours: dict[date, tuple[time, time]]


def _make_session(day: date, open_t: time, close_t: time) -> TradingSession:
    opens = datetime.combine(day, open_t, SEOUL)
    closes = datetime.combine(day, close_t, SEOUL)
    return TradingSession(day, opens, closes, closes - CLOSING_AUCTION)


class KrxCalendar:
    """Trading sessions in Asia/Seoul; days outside XKRX's known range are not sessions."""

    def __init__(self, base: Any, overrides: CalendarOverrides) -> None:
        self._base = base  # exchange_calendars.ExchangeCalendar
        self._overrides = overrides

    def session(self, day: date) -> TradingSession | None:
        if day in self._overrides.holidays:
            return None
        if day in self._overrides.special_hours:
            open_t, close_t = self._overrides.special_hours[day]
            return _make_session(day, open_t, close_t)
        return self._base_session(day)

    def _base_session(self, day: date) -> TradingSession | None:
        first, last = self._base.first_session.date(), self._base.last_session.date()
        if not first <= day <= last or not self._base.is_session(day.isoformat()):
            return None
        opens = self._base.session_open(day.isoformat()).to_pydatetime().astimezone(SEOUL)
        closes = self._base.session_close(day.isoformat()).to_pydatetime().astimezone(SEOUL)
        return TradingSession(day, opens, closes, closes - CLOSING_AUCTION)

    def liquidation_time(self, day: date, offset: timedelta) -> datetime | None:
        """close − offset, but never inside the closing auction nor before the open."""
        if offset < timedelta(0):
            raise ValueError(f"offset must be >= 0, got {offset}")
        session = self.session(day)
        if session is None:
            return None
        at = min(session.close - offset, session.closing_auction_start)
        return max(at, session.open)


def _parse_time(value: Any, field: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{field}: not a HH:MM time: {value!r}") from exc


def _parse_date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{field}: not a YYYY-MM-DD date: {value!r}") from exc


def parse_overrides(doc: Any, source: str) -> CalendarOverrides:
    """Validate one overrides document; errors name the file and the entry."""
    if doc is None:
        return CalendarOverrides(frozenset(), {})
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: top level must be a mapping")
    holidays: set[date] = set()
    for i, item in enumerate(doc.get("holidays") or []):
        if not isinstance(item, dict) or "date" not in item:
            raise ConfigError(f"{source}: holidays[{i}].date is required")
        holidays.add(_parse_date(item["date"], f"{source}: holidays[{i}].date"))
    special: dict[date, tuple[time, time]] = {}
    for i, item in enumerate(doc.get("special_sessions") or []):
        where = f"{source}: special_sessions[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where} must be a mapping")
        day = _parse_date(item.get("date"), f"{where}.date")
        open_t = _parse_time(item.get("open", "09:00"), f"{where}.open")
        close_t = _parse_time(item.get("close", "15:30"), f"{where}.close")
        if close_t <= open_t:
            raise ConfigError(f"{where}.close must be after open")
        special[day] = (open_t, close_t)
    return CalendarOverrides(frozenset(holidays), special)


def _merge(a: CalendarOverrides, b: CalendarOverrides) -> CalendarOverrides:
    return CalendarOverrides(a.holidays | b.holidays, {**a.special_hours, **b.special_hours})


@functools.lru_cache(maxsize=1)
def _xkrx() -> Any:
    import exchange_calendars as xcals  # slow import; only when a calendar is built

    with warnings.catch_warnings():  # pandas deprecation noise from inside the library
        warnings.simplefilter("ignore")
        return xcals.get_calendar("XKRX")


@functools.lru_cache(maxsize=1)
def _shipped_overrides() -> CalendarOverrides:
    text = (
        resources.files("tradefleet.domain.data")
        .joinpath("krx_calendar_overrides.yaml")
        .read_text(encoding="utf-8")
    )
    return parse_overrides(yaml.safe_load(text), "krx_calendar_overrides.yaml")


def load_krx_calendar(extra_overrides: Path | None = None) -> KrxCalendar:
    """XKRX + shipped overrides + (optionally) an operator's extra YAML, later wins."""
    overrides = _shipped_overrides()
    if extra_overrides is not None:
        try:
            doc = yaml.safe_load(Path(extra_overrides).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"calendar overrides {extra_overrides}: {exc}") from exc
        overrides = _merge(overrides, parse_overrides(doc, str(extra_overrides)))
    return KrxCalendar(_xkrx(), overrides)
