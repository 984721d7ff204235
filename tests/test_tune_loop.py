"""The tuning loop end to end (issue 21, items 4-6): a user's own strategy in a temp folder,
loaded by path, is tuned over recorded days (walk-forward: the search never scores a judge
day; seeded: the same version twice), backtested through the production worker, approved
by a person, and the next session's entries carry that parameter version on their
position rows. Bad flags name themselves and write nothing."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from tests.scenarios.harness import worker_env
from tests.user_strategy import USER_STRATEGY

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.cli import main
from tradefleet.domain.exits import ExitParams
from tradefleet.replay.day_format import write_day
from tradefleet.replay.runner import run_worker_day
from tradefleet.replay.sim_source import record_sim_day
from tradefleet.tuning.day_bars import load_day_bars
from tradefleet.tuning.scorer import Rules
from tradefleet.tuning.tuner import TuneRequest, tune

SYMBOLS = 12
DAYS = (date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25))
NEXT = date(2026, 11, 26)
TIGHT = ExitParams(stop_loss_pct=Decimal("0.4"), take_profit_pct=Decimal("0.4"),
                   trend_ma_window=120, time_exit_minutes=0)



@pytest.fixture(scope="module")
def user_strategy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("my_strategies") / "rise.py"
    path.write_text(textwrap.dedent(USER_STRATEGY))
    return path


@pytest.fixture(scope="module")
def days_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recorded")
    for k, day in enumerate(DAYS):          # a quote a minute: 4x faster to record
        write_day(out, record_sim_day(11 + k, SYMBOLS, day, every_s=60))
    return out


@pytest.fixture
def config(tmp_path: Path, user_strategy: Path) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(yaml.safe_dump({
        "risk": {"capital_limit": 5_000_000, "daily_loss_limit": 10_000_000},
        "strategy": {"name": "user_rise", "path": str(user_strategy)},
        "exits": {"stop_loss_pct": str(TIGHT.stop_loss_pct),
                  "take_profit_pct": str(TIGHT.take_profit_pct),
                  "trend_ma_window": TIGHT.trend_ma_window, "time_exit_minutes": 0},
        "filters": {"min_volume": 0, "min_traded_value": 0, "max_spread_ticks": 50},
        "poll_interval_seconds": 5}))
    return path


def _request(user_strategy: Path, seed: int = 3) -> TuneRequest:
    return TuneRequest("user_rise", {}, TIGHT, Rules(), trials=12, seed=seed,
                       path=user_strategy)


def test_walk_forward_search_never_scores_a_judge_day_and_repeats_itself(
        days_dir: Path, user_strategy: Path) -> None:
    days = [load_day_bars(days_dir / d.isoformat()) for d in DAYS]
    first = tune(_request(user_strategy), days)
    ev = first.evidence
    assert ev["fit_days"] == [d.isoformat() for d in DAYS[:2]]
    assert ev["judge_days"] == [DAYS[2].isoformat()]
    assert ev["trial_table"], "no trial was scored"
    for row in ev["trial_table"]:            # what each trial was really scored on
        assert set(row["days"]) <= set(ev["fit_days"]), row
    assert first == tune(_request(user_strategy), days)      # seeded: the same version
    assert -1.0 <= first.params["min_rise_pct"] <= 0.0 and 2 <= first.params["window"] <= 6


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_tune_approve_and_the_next_session_trades_the_approved_version(
        days_dir: Path, config: Path, user_strategy: Path, pg_dsn: str, pg_server_uri: str,
        monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRADEFLEET_DB__DSN", pg_dsn)
    db = await Database.connect(pg_dsn, min_size=1, max_size=4)
    try:
        # bad flags: named, nothing written
        assert await _cli("tune", "--data", str(days_dir), "--days", "4", "--trials", "2",
                          "--config", str(config)) == 2
        assert "--days: 4 asked" in capsys.readouterr().err
        assert await _cli("tune", "--data", str(days_dir), "--days", "3", "--trials", "2",
                          "--strategy", "no_such") == 2
        assert "--strategy" in capsys.readouterr().err
        assert await db.pool.fetchval("SELECT count(*) FROM param_versions") == 0

        assert await _cli("tune", "--data", str(days_dir), "--days", "3", "--trials", "6",
                          "--seed", "3", "--config", str(config)) == 0
        row = await db.pool.fetchrow("SELECT version_id, strategy, params, evidence, "
                                     "approved_at FROM param_versions")
        assert row["strategy"] == "user_rise" and row["approved_at"] is None
        assert row["evidence"]["trials"]["asked"] == 6
        assert row["evidence"]["judge_days"] == [DAYS[2].isoformat()]
        assert "sc011" in row["evidence"]
        vid = row["version_id"]

        # the user's strategy, by path, through the production worker over a recorded day
        assert await _cli("backtest", "--data", str(days_dir), "--from", str(DAYS[2]),
                          "--config", str(config), "--start", "15:00",
                          "--pg-dsn", pg_server_uri) == 0
        assert "user_rise" in capsys.readouterr().out

        assert await _cli("params", "approve", str(vid), "--by", "kim") == 0
        env = worker_env("w-next", exits=TIGHT, TRADEFLEET_STRATEGY__NAME="user_rise",
                         TRADEFLEET_STRATEGY__PATH=str(user_strategy),
                         TRADEFLEET_STRATEGY__PARAM_VERSION="latest-approved")
        env.pop("TRADEFLEET_STRATEGY__PARAMS")
        clock = FrozenClock(datetime.combine(NEXT, time(14, 50), tzinfo=SEOUL))
        run = await run_worker_day(SimMarket(21, n_symbols=SYMBOLS, clock=clock), clock, db,
                                   env)
        positions = await db.pool.fetch("SELECT strategy_name, param_version FROM positions "
                                        "WHERE worker_id = 'w-next' AND trading_day = $1", NEXT)
        assert positions, run.trades                         # the session entered at all
        assert {(p["strategy_name"], p["param_version"]) for p in positions} == {
            ("user_rise", f"pv-{vid}")}
    finally:
        await db.close()
