"""XKRX's session table cached on disk, so a worker process starts without building
exchange_calendars' calendar (seconds of CPU per process, minutes for a fleet on two cores).

The file lives under the state dir and is keyed by the versions of the packages that decide
the sessions (``library_versions()``): a library update makes the cache stale and it is
rebuilt from the library, once, under a file lock (the first of N starting processes builds,
the others wait and read). The library's default range moves with the date it is built on,
so a table that does not cover the asked-for day is rebuilt too (at most once a day). The
overrides are not in the file; ``KrxCalendar`` applies them on every lookup. Any unreadable
or foreign file is rebuilt, and a state dir that cannot be written only costs the speed."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

from tradefleet.adapters.postgres.embedded import default_data_dir
from tradefleet.domain.calendar import (
    SEOUL,
    KrxCalendar,
    SessionTable,
    library_versions,
    load_krx_calendar,
    session_table_from_library,
)

FORMAT = 1
FILE_NAME = "xkrx-sessions.json"


def default_cache_dir() -> Path:
    """``$TRADEFLEET_STATE_DIR/calendar`` (or the user's state dir), beside ``pgdata``."""
    return default_data_dir().parent / "calendar"


def _encode(table: SessionTable, built_on: date) -> str:
    return json.dumps({
        "format": FORMAT, "library": table.library, "built_on": built_on.isoformat(),
        "first": table.first.isoformat(), "last": table.last.isoformat(),
        "sessions": {day: f"{o:%H:%M}-{c:%H:%M}" for day, (o, c) in table.sessions.items()},
    }, separators=(",", ":"))


def _decode(text: str) -> tuple[SessionTable, date]:
    """(table, the day it was built); ValueError/KeyError/TypeError on anything odd."""
    doc = json.loads(text)
    if doc["format"] != FORMAT:
        raise ValueError(f"cache format {doc['format']!r}")
    sessions: dict[str, tuple[time, time]] = {}
    for day, hours in doc["sessions"].items():
        opens, closes = hours.split("-")
        sessions[day] = (time.fromisoformat(opens), time.fromisoformat(closes))
    table = SessionTable(str(doc["library"]), date.fromisoformat(doc["first"]),
                         date.fromisoformat(doc["last"]), sessions)
    return table, date.fromisoformat(doc["built_on"])


def _fresh(path: Path, library: str, covering: date, today: date) -> SessionTable | None:
    try:
        table, built_on = _decode(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if table.library != library:
        return None                                   # exchange_calendars (or a dep) updated
    if not table.covers(covering) and built_on != today:
        return None                                   # today's library may know the day
    return table


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, text: str) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=".xkrx-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_session_table(covering: date | None = None, *,
                         cache_dir: Path | None = None) -> SessionTable:
    """The library's XKRX table from the disk cache, rebuilt when stale; ``covering`` is the
    day the caller is about to ask for (default: today in Seoul)."""
    today = datetime.now(SEOUL).date()
    covering = covering or today
    library = library_versions()
    directory = cache_dir or default_cache_dir()
    path = directory / FILE_NAME
    table = _fresh(path, library, covering, today)
    if table is not None:
        return table
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / (FILE_NAME + ".lock")):
            table = _fresh(path, library, covering, today)   # built while we waited?
            if table is None:
                table = session_table_from_library()
                _write(path, _encode(table, today))
    except OSError:
        table = session_table_from_library()               # read-only state dir: just slow
    return table


def krx_calendar(covering: date | None = None, *, extra_overrides: Path | None = None,
                 cache_dir: Path | None = None) -> KrxCalendar:
    """The KRX calendar (library sessions + overrides) without building the library's
    calendar in this process when the cache is fresh."""
    table = cached_session_table(covering, cache_dir=cache_dir)
    if extra_overrides is None:
        extra_overrides = overrides_from_environment()
    return load_krx_calendar(extra_overrides, table=table)


OVERRIDES_ENV = "TRADEFLEET_CALENDAR_OVERRIDES"


def overrides_from_environment() -> Path | None:
    """The calendar overrides file of this process (a worker pod: the chart's calendar
    ConfigMap, mounted by the operator), from TRADEFLEET_CALENDAR_OVERRIDES; an ad-hoc closure
    then needs a ConfigMap edit, not a new image."""
    raw = os.environ.get(OVERRIDES_ENV, "").strip()
    return Path(raw) if raw else None
