"""KRX trading calendar: which days trade, when they open and close, when to liquidate.

Built on exchange_calendars' XKRX, corrected by a shipped YAML of overrides (elections,
ad-hoc holidays, exam-day hours) that can be extended from a config path, because the
library lags behind government announcements and real money depends on the dates.

XKRX itself is read once into a ``SessionTable`` (day -> open, close): building the library's
calendar costs seconds of CPU, so processes load a table cached on disk instead
(``adapters/calendar_cache.py``). The overrides are never baked into the table: they are
applied on every lookup, so editing them needs no cache invalidation.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tradefleet.domain.errors import ConfigError

SEOUL = ZoneInfo("Asia/Seoul")
CLOSING_AUCTION = timedelta(minutes=10)
REGULAR_OPEN, REGULAR_CLOSE = time(9, 0), time(15, 30)
# the packages whose versions decide XKRX's sessions (lunar holidays come from the second)
LIBRARY_PACKAGES = ("exchange_calendars", "korean_lunar_calendar", "pandas")


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
    reasons: dict[date, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionTable:
    """XKRX's sessions as plain data: ``sessions`` maps ISO day -> (open, close) Seoul
    times for every session in [first, last]; days in that range not listed are closed.
    ``library`` names the package versions it was read from (the cache key)."""

    library: str
    first: date
    last: date
    sessions: Mapping[str, tuple[time, time]]

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last

    def hours(self, day: date) -> tuple[time, time] | None:
        return self.sessions.get(day.isoformat()) if self.covers(day) else None


def library_versions() -> str:
    """e.g. ``exchange_calendars=4.13.2 korean_lunar_calendar=0.4.0 pandas=3.1.1``, read from
    package metadata (milliseconds; nothing heavy is imported)."""
    parts = []
    for name in LIBRARY_PACKAGES:
        try:
            parts.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name}=missing")
    return " ".join(parts)


def make_session(day: date, open_t: time, close_t: time) -> TradingSession:
    opens = datetime.combine(day, open_t, SEOUL)
    closes = datetime.combine(day, close_t, SEOUL)
    return TradingSession(day, opens, closes, closes - CLOSING_AUCTION)


def regular_session(day: date) -> TradingSession:
    """The usual 09:00-15:30 hours on ``day`` (for simulations on days no calendar knows)."""
    return make_session(day, REGULAR_OPEN, REGULAR_CLOSE)


def liquidation_time(session: TradingSession, offset: timedelta) -> datetime:
    """close − offset, but never inside the closing auction nor before the open."""
    if offset < timedelta(0):
        raise ValueError(f"offset must be >= 0, got {offset}")
    at = min(session.close - offset, session.closing_auction_start)
    return max(at, session.open)


class KrxCalendar:
    """Trading sessions in Asia/Seoul; days outside XKRX's known range are not sessions
    unless an override names them (``knows`` tells the two kinds of "no session" apart)."""

    def __init__(self, table: SessionTable, overrides: CalendarOverrides) -> None:
        self._table = table
        self._overrides = overrides

    @property
    def table(self) -> SessionTable:
        return self._table

    def knows(self, day: date) -> bool:
        """True when the calendar can say whether ``day`` trades (and when)."""
        return (self._table.covers(day) or day in self._overrides.holidays
                or day in self._overrides.special_hours)

    def session(self, day: date) -> TradingSession | None:
        if day in self._overrides.holidays:
            return None
        if day in self._overrides.special_hours:
            open_t, close_t = self._overrides.special_hours[day]
            return make_session(day, open_t, close_t)
        hours = self._table.hours(day)
        return None if hours is None else make_session(day, *hours)

    def closed_reason(self, day: date) -> str:
        """Why ``day`` has no session, in words for a log line."""
        if day in self._overrides.holidays:
            why = self._overrides.reasons.get(day, "holiday")
            return f"{why} (calendar override)"
        if not self.knows(day):
            return (f"not in the KRX calendar ({self._table.library} covers "
                    f"{self._table.first}..{self._table.last})")
        if day.weekday() >= 5:
            return "weekend"
        return "KRX holiday (exchange_calendars XKRX)"

    def liquidation_time(self, day: date, offset: timedelta) -> datetime | None:
        """close − offset, but never inside the closing auction nor before the open."""
        if offset < timedelta(0):
            raise ValueError(f"offset must be >= 0, got {offset}")
        session = self.session(day)
        return None if session is None else liquidation_time(session, offset)


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
    reasons: dict[date, str] = {}
    for i, item in enumerate(doc.get("holidays") or []):
        if not isinstance(item, dict) or "date" not in item:
            raise ConfigError(f"{source}: holidays[{i}].date is required")
        day = _parse_date(item["date"], f"{source}: holidays[{i}].date")
        holidays.add(day)
        if item.get("reason"):
            reasons[day] = str(item["reason"])
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
        if item.get("reason"):
            reasons[day] = str(item["reason"])
    return CalendarOverrides(frozenset(holidays), special, reasons)


def _merge(a: CalendarOverrides, b: CalendarOverrides) -> CalendarOverrides:
    """``b`` wins: a day it names is taken out of ``a``'s holidays and special hours."""
    named = b.holidays | set(b.special_hours)
    return CalendarOverrides(
        (a.holidays - named) | b.holidays,
        {**{d: h for d, h in a.special_hours.items() if d not in named}, **b.special_hours},
        {**a.reasons, **b.reasons})


def session_table_from_library() -> SessionTable:
    """Read XKRX's whole default range from exchange_calendars (seconds of CPU: pandas
    holiday rules and lunar dates). Processes should use the disk-cached table instead."""
    import exchange_calendars as xcals  # slow import; only when a table is (re)built

    with warnings.catch_warnings():  # pandas deprecation noise from inside the library
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XKRX")
        schedule = cal.schedule
    sessions: dict[str, tuple[time, time]] = {}
    for day, opens, closes in zip(schedule.index, schedule["open"], schedule["close"],
                                  strict=True):
        local_open = opens.to_pydatetime().astimezone(SEOUL)
        local_close = closes.to_pydatetime().astimezone(SEOUL)
        sessions[day.date().isoformat()] = (local_open.time(), local_close.time())
    return SessionTable(library_versions(), cal.first_session.date(),
                        cal.last_session.date(), sessions)


@functools.lru_cache(maxsize=1)
def _library_table() -> SessionTable:
    return session_table_from_library()


@functools.lru_cache(maxsize=1)
def _shipped_overrides() -> CalendarOverrides:
    text = (
        resources.files("tradefleet.domain.data")
        .joinpath("krx_calendar_overrides.yaml")
        .read_text(encoding="utf-8")
    )
    # libyaml's safe loader when built in: our own file, read at every worker start
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return parse_overrides(yaml.load(text, Loader=loader),  # noqa: S506 - a safe loader
                           "krx_calendar_overrides.yaml")


def load_krx_calendar(extra_overrides: Path | None = None, *,
                      table: SessionTable | None = None) -> KrxCalendar:
    """``table`` (default: read from the library in this process) + shipped overrides +
    (optionally) an operator's extra YAML; later wins."""
    overrides = _shipped_overrides()
    if extra_overrides is not None:
        try:
            doc = yaml.safe_load(Path(extra_overrides).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"calendar overrides {extra_overrides}: {exc}") from exc
        overrides = _merge(overrides, parse_overrides(doc, str(extra_overrides)))
    return KrxCalendar(table if table is not None else _library_table(), overrides)
