"""``tradefleet backtest --jobs`` (issue 21, speed): the pieces that make days run side by
side give the one-process result whatever order they finish in. The end-to-end check (two
days, one process against two: the same summary and report bytes) is
``tests/test_backtest_command.py``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from tests.backtest_rig import backtest_databases, drop_databases
from tests.fleet_day_rig import AFTERNOON, tight_fleet

from tradefleet.domain.errors import ConfigError
from tradefleet.replay import parallel_days
from tradefleet.replay.backtest import BacktestResult, PlannedDay, run_backtest
from tradefleet.replay.day_format import write_day
from tradefleet.replay.parallel_days import MAX_JOBS, default_jobs, in_day_order
from tradefleet.replay.sim_source import record_sim_day


def test_days_heard_as_they_finish_come_back_in_the_plans_order() -> None:
    finished = {2: "third", 0: "first", 1: "second"}        # the order they ended in
    assert list(finished.values()) != ["first", "second", "third"]
    assert in_day_order(finished) == ["first", "second", "third"]


def test_the_default_is_one_process_per_core_and_never_more_than_the_days(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel_days, "usable_cores", lambda: 2)
    assert [default_jobs(days) for days in (0, 1, 2, 20)] == [1, 1, 2, 2]
    monkeypatch.setattr(parallel_days, "usable_cores", lambda: 8)
    assert [default_jobs(days) for days in (3, 20)] == [3, 8]


@pytest.mark.parametrize("jobs", [0, -1, MAX_JOBS + 1])
def test_a_bad_jobs_value_is_refused_by_name_before_a_database_is_made(jobs: int) -> None:
    """No server is needed: the value is refused before the first connection (the DSN
    points nowhere)."""
    with pytest.raises(ConfigError, match="--jobs"):
        asyncio.run(run_backtest([], [], "postgresql://nobody@127.0.0.1:1/none", jobs=jobs))


DAYS = {date(2026, 11, 24): 11, date(2026, 11, 25): 12, date(2026, 11, 26): 13}
DAYS_NAMED = [f"{d:%Y%m%d}" for d in DAYS]


@pytest.fixture(scope="module")
def three_days(tmp_path_factory: pytest.TempPathFactory) -> list[PlannedDay]:
    folder = tmp_path_factory.mktemp("days")
    return [PlannedDay(day, write_day(folder, record_sim_day(seed, 30, day)))
            for day, seed in DAYS.items()]


def _by_day(server: str) -> dict[str, list[str]]:
    """The backtests' databases on the server, by the day in their names (from a thread:
    ``on_day`` is called on the running loop)."""
    with ThreadPoolExecutor(1) as thread:
        names = thread.submit(backtest_databases, server).result()
    return {d.strftime("%Y%m%d"): [n for n in names if n.endswith(f"_{d:%Y%m%d}")]
            for d in DAYS}


def _backtest(server: str, planned: list[PlannedDay], jobs: int, keep: bool = False
              ) -> tuple[BacktestResult, list[tuple[str, dict[str, list[str]]]]]:
    """Three days by two workers from 14:45; ``on_day`` notes each day as it is heard,
    with the days' databases the server has then."""
    heard: list[tuple[str, dict[str, list[str]]]] = []
    result = asyncio.run(run_backtest(
        planned, tight_fleet(2), server, start=AFTERNOON, jobs=jobs, keep_databases=keep,
        on_day=lambda p, run, k, n: heard.append((f"{p.day:%Y%m%d}", _by_day(server)))))
    return result, heard


def test_days_in_processes_trade_as_one_process_and_drop_each_database_as_it_ends(
        pg_server_uri: str, three_days: list[PlannedDay]) -> None:
    """Three days in two processes: the third is handed to the first process to end a day,
    on a database made while the first two ran; the trades are one process's, and each
    day's database is gone as soon as that day has been heard (not after the last)."""
    one, _ = _backtest(pg_server_uri, three_days, 1)
    two, heard = _backtest(pg_server_uri, three_days, 2)
    assert [r.trades for r in two.runs] == [r.trades for r in one.runs]
    assert sum(len(r.trades) for r in two.runs) > 0
    assert sorted(day for day, _ in heard) == sorted(DAYS_NAMED)
    for k, (day, databases) in enumerate(heard):
        assert len(databases[day]) == 1                         # its own: dropped after
        for earlier, _ in heard[:k]:
            assert databases[earlier] == [], (earlier, heard)   # dropped as it ended
    assert backtest_databases(pg_server_uri) == []


def test_kept_databases_stay_when_days_run_in_processes(
        pg_server_uri: str, three_days: list[PlannedDay]) -> None:
    before = set(backtest_databases(pg_server_uri))
    _, heard = _backtest(pg_server_uri, three_days, 2, keep=True)
    kept = sorted(set(backtest_databases(pg_server_uri)) - before)
    try:
        _, databases = heard[-1]
        assert all(len(databases[d]) == 1 for d in DAYS_NAMED), heard   # none dropped
        assert len(kept) == len(DAYS) + 1                                # and the template
    finally:
        drop_databases(pg_server_uri, kept)


