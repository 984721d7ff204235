"""``tradefleet backtest --jobs`` (issue 21, speed): the pieces that make days run side by
side give the one-process result whatever order they finish in. The end-to-end check (two
days, one process against two: the same summary and report bytes) is
``tests/test_backtest_command.py``."""

from __future__ import annotations

import asyncio

import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.replay import parallel_days
from tradefleet.replay.backtest import run_backtest
from tradefleet.replay.parallel_days import MAX_JOBS, default_jobs, in_day_order


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
