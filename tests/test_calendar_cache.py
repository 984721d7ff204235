"""The XKRX session table cached on disk: the same sessions as exchange_calendars (plus the
overrides) for the range the fleet uses, rebuilt when the library changes or the file is
bad, and read without importing exchange_calendars or pandas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from datetime import date, datetime, time, timedelta
from importlib import resources

import yaml

from tradefleet.adapters.calendar_cache import (
    FILE_NAME,
    _encode,
    cached_session_table,
    krx_calendar,
)
from tradefleet.domain.calendar import (
    SEOUL,
    SessionTable,
    library_versions,
    session_table_from_library,
)


def _library_calendar():
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xcals.get_calendar("XKRX")


def _shipped_overrides() -> dict:
    text = resources.files("tradefleet.domain.data").joinpath(
        "krx_calendar_overrides.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def test_cached_sessions_equal_the_library_plus_overrides(tmp_path):
    cold = cached_session_table(cache_dir=tmp_path)          # builds and writes the file
    assert (tmp_path / FILE_NAME).is_file()
    warm = cached_session_table(cache_dir=tmp_path)          # read back from the file
    assert warm == cold and warm.library == library_versions()

    xkrx = _library_calendar()
    doc = _shipped_overrides()
    holidays = {item["date"] for item in doc["holidays"]}
    special = {item["date"]: (item["open"], item["close"]) for item in doc["special_sessions"]}
    assert (warm.first, warm.last) == (xkrx.first_session.date(), xkrx.last_session.date())
    calendar = krx_calendar(cache_dir=tmp_path)
    today = datetime.now(SEOUL).date()
    day, checked, differs = date(today.year - 3, 1, 1), 0, 0
    while day <= warm.last:                 # three years back (the demo replays recent days)
        library = None                      # through the library's last session
        if xkrx.is_session(day.isoformat()):
            library = tuple(f"{t.tz_convert('Asia/Seoul'):%H:%M}" for t in (
                xkrx.session_open(day.isoformat()), xkrx.session_close(day.isoformat())))
        expected = None if day in holidays else special.get(day, library)
        session = calendar.session(day)
        got = None if session is None else (f"{session.open:%H:%M}", f"{session.close:%H:%M}")
        assert got == expected, day
        differs += expected != library
        checked += 1
        day += timedelta(days=1)
    assert checked > 3 * 365 and differs >= 4       # the overrides do correct the library


def _write_cache(path, table: SessionTable, built_on: date) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / FILE_NAME).write_text(_encode(table, built_on), encoding="utf-8")


def test_a_cache_from_another_library_version_is_rebuilt(tmp_path):
    sunday = date(2026, 11, 22)
    stale = SessionTable("exchange_calendars=0.0.1 korean_lunar_calendar=0 pandas=0",
                         date(2020, 1, 1), date(2030, 1, 1),
                         {sunday.isoformat(): (time(9), time(15, 30))})
    _write_cache(tmp_path, stale, datetime.now(SEOUL).date())
    table = cached_session_table(sunday, cache_dir=tmp_path)
    assert table.library == library_versions()
    assert table.hours(sunday) is None and table == session_table_from_library()
    assert json.loads((tmp_path / FILE_NAME).read_text())["library"] == library_versions()


def test_an_unreadable_cache_is_rebuilt(tmp_path):
    tmp_path.joinpath(FILE_NAME).write_text('{"format": 1, "library": "trunc', "utf-8")
    table = cached_session_table(cache_dir=tmp_path)
    assert table == session_table_from_library()
    assert cached_session_table(cache_dir=tmp_path) == table     # and the file is good now


def test_a_table_not_covering_the_day_is_rebuilt_at_most_once_a_day(tmp_path):
    today = datetime.now(SEOUL).date()
    day = date(2026, 11, 24)
    narrow = SessionTable(library_versions(), day, day, {day.isoformat(): (time(9), time(15))})
    asked = day + timedelta(days=1)
    _write_cache(tmp_path, narrow, today)           # built today: today's library knows no more
    assert cached_session_table(asked, cache_dir=tmp_path) == narrow
    _write_cache(tmp_path, narrow, today - timedelta(days=1))   # older: the library may
    rebuilt = cached_session_table(asked, cache_dir=tmp_path)
    assert rebuilt.covers(asked) and rebuilt == session_table_from_library()


CHILD = """
import sys
from pathlib import Path
from tradefleet.adapters.calendar_cache import krx_calendar
from datetime import date
cal = krx_calendar(cache_dir=Path(sys.argv[1]))
s = cal.session(date(2026, 11, 19))
print(s.open.isoformat(), len(cal.table.sessions), 'exchange_calendars' in sys.modules,
      'pandas' in sys.modules)
"""


def test_processes_starting_together_share_one_cache_and_skip_the_library(tmp_path):
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    cold = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len({tuple(c[:2]) for c in cold}) == 1          # same table in every process
    assert cold[0][0] == "2026-11-19T10:00:00+09:00"        # the CSAT override applies
    warm = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    opens, size, imported_xcals, imported_pandas = warm.stdout.split()
    assert (opens, size) == tuple(cold[0][:2])
    assert (imported_xcals, imported_pandas) == ("False", "False")
