"""A user's own minute bars, imported from CSV into the day format (bars only).

The column layout (a header row is required; its columns may come in any order, and other
columns are ignored)::

    symbol,start,open,high,low,close,volume
    005930,2026-11-24 09:00,71000,71200,70900,71100,152340
    005930,2026-11-24 09:01,71100,71300,71000,71250,98010

- ``symbol``: the 6-character KRX code (``005930``);
- ``start``: the minute's opening time, ``YYYY-MM-DD HH:MM`` in Seoul time, or ISO 8601 with
  an offset (``2026-11-24T00:00:00+00:00`` is 09:00 in Seoul); whole minutes only;
- ``open high low close``: integer won, > 0, with low <= open, close <= high;
- ``volume``: integer shares traded in that minute, >= 0.

Each bar must lie inside that day's KRX session (the calendar's hours; 09:00-15:30 on a day
it does not know) and appear once. The rows of one file may span days: each day becomes its
own folder. Every bad row is reported with its line number and column (the first 20 of
them), and nothing is written unless every row of every file is good. An imported day has
no quotes (``meta.quotes_every_s`` is null)."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from tradefleet.domain.calendar import TradingSession, regular_session
from tradefleet.domain.errors import SEOUL, ConfigError
from tradefleet.domain.market import Bar
from tradefleet.replay.columns import bar_columns
from tradefleet.replay.day_format import DayMeta, RecordedDay

COLUMNS = ("symbol", "start", "open", "high", "low", "close", "volume")
SYMBOL = re.compile(r"^[0-9A-Z]{6}$")
MAX_REPORTED = 20
SessionOf = Callable[[date], "TradingSession | None"]


class CsvImportError(ConfigError):
    """Bad rows, each named by file, line and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        super().__init__("\n".join(shown + ([f"... and {more} more"] if more else [])))


@dataclass(frozen=True, slots=True)
class _Where:
    path: Path
    line: int

    def __call__(self, column: str, message: str) -> str:
        return f"{self.path}: line {self.line}, column {column!r}: {message}"


def import_csv(paths: Sequence[Path], *, session_of: SessionOf | None = None
               ) -> list[RecordedDay]:
    """Every day the files hold, validated as a whole. ``session_of(day)``: that day's KRX
    session, None when closed (the command passes the KRX calendar; default 09:00-15:30)."""
    session_of = session_of or regular_session
    problems: list[str] = []
    by_day: dict[date, dict[tuple[str, datetime], Bar]] = defaultdict(dict)
    sessions: dict[date, TradingSession | None] = {}
    for path in paths:
        for bar, where in _rows(Path(path), problems):
            day = bar.start.date()
            if day not in sessions:
                sessions[day] = session_of(day)
            session = sessions[day]
            if session is None:
                problems.append(where("start", f"{day} is not a KRX session day"))
                continue
            if not session.open <= bar.start < session.close:
                problems.append(where("start", f"{bar.start:%H:%M} is outside the session "
                                               f"{session.open:%H:%M}-{session.close:%H:%M}"))
                continue
            key = (bar.symbol, bar.start)
            if key in by_day[day]:
                problems.append(where("start", f"a second bar for {bar.symbol} at "
                                               f"{bar.start:%Y-%m-%d %H:%M}"))
                continue
            by_day[day][key] = bar
    if problems:
        raise CsvImportError(problems)
    days = []
    for day in sorted(by_day):
        bars = list(by_day[day].values())
        session = sessions[day]
        assert session is not None
        meta = DayMeta(day=day, source="csv:" + ",".join(Path(p).name for p in paths),
                       session_open=session.open, session_close=session.close,
                       symbols={s: None for s in sorted({b.symbol for b in bars})},
                       quotes_every_s=None, book_levels=0)
        days.append(RecordedDay(meta, bar_columns(bars), None))
    return days


def _rows(path: Path, problems: list[str]):  # noqa: ANN202 - a generator of (Bar, _Where)
    if not path.is_file():
        problems.append(f"{path}: no such file")
        return
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            problems.append(f"{path}: line 1 (header): missing columns {', '.join(missing)} "
                            f"(expected {','.join(COLUMNS)})")
            return
        reader.fieldnames = header
        for row in reader:
            where = _Where(path, reader.line_num)
            bar = _bar(row, where, problems)
            if bar is not None:
                yield bar, where


def _bar(row: dict[str, str | None], where: _Where, problems: list[str]) -> Bar | None:
    before = len(problems)
    symbol = (row.get("symbol") or "").strip()
    if not SYMBOL.match(symbol):
        problems.append(where("symbol", f"not a 6-character KRX code: {symbol!r}"))
    start = _start((row.get("start") or "").strip(), where, problems)
    values: dict[str, int] = {}
    for name in ("open", "high", "low", "close", "volume"):
        text = (row.get(name) or "").strip()
        try:
            value = int(text)
        except ValueError:
            problems.append(where(name, f"not an integer: {text!r}"))
            continue
        if value < 0 or (value == 0 and name != "volume"):
            problems.append(where(name, f"must be {'>= 0' if name == 'volume' else '> 0'}, "
                                        f"got {value}"))
            continue
        values[name] = value
    if {"open", "high", "low", "close"} <= values.keys():
        o, h, lo, c = (values[k] for k in ("open", "high", "low", "close"))
        if h < max(o, c, lo):
            problems.append(where("high", f"{h} is below open/low/close"))
        elif lo > min(o, c):
            problems.append(where("low", f"{lo} is above open/close"))
    if len(problems) > before or start is None:
        return None
    return Bar(symbol, start, values["open"], values["high"], values["low"], values["close"],
               values["volume"])


def _start(text: str, where: _Where, problems: list[str]) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        problems.append(where("start", f"not YYYY-MM-DD HH:MM: {text!r}"))
        return None
    at = at.replace(tzinfo=SEOUL) if at.tzinfo is None else at.astimezone(SEOUL)
    if at.second or at.microsecond:
        problems.append(where("start", f"not a whole minute: {text!r}"))
        return None
    return at


def sessions_from_calendar() -> SessionOf:
    """The KRX calendar's session of a day (regular hours on a day it does not know)."""
    from tradefleet.adapters.calendar_cache import krx_calendar

    def session_of(day: date) -> TradingSession | None:
        calendar = krx_calendar(day)
        if not calendar.knows(day):
            return regular_session(day)
        return calendar.session(day)

    return session_of


__all__ = ["COLUMNS", "CsvImportError", "import_csv", "sessions_from_calendar"]
