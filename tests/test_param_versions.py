"""Parameter versions (issue 21): only an approved version is taken; a worker takes one at
the start of its session and keeps it for the whole day, even when another is approved
meanwhile (a pod restarted mid-session); `tradefleet params` lists, shows and approves;
bad input names the field and writes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta

import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.param_version_store import (
    approve_version,
    insert_version,
    take_session_version,
)
from tradefleet.cli import main
from tradefleet.domain.errors import ConfigError
from tradefleet.settings import load_settings
from tradefleet.worker.param_version import take_param_version

DAY = date(2026, 11, 24)
ENV = {"TRADEFLEET_WORKER_ID": "w-pv", "TRADEFLEET_MODE": "sim",
       "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
       "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000"}


async def _version(db, short: int, long: int):  # noqa: ANN001, ANN202
    return await insert_version(db.pool, strategy="ma_breakout",
                                params={"short": short, "long": long},
                                evidence={"fit_score": 0.01})


async def _take(db, worker: str, day: date, wanted: str = "latest-approved"):  # noqa: ANN001, ANN202
    return await take_session_version(db.pool, worker_id=worker, trading_day=day,
                                      strategy="ma_breakout", wanted=wanted)


async def test_only_an_approved_version_is_taken(db) -> None:  # noqa: ANN001
    v1 = await _version(db, 3, 9)
    for wanted in ("latest-approved", str(v1.version_id)):
        with pytest.raises(ConfigError, match=r"strategy\.param_version.*(not approved|no "
                                              r"approved)"):
            await _take(db, "w-a", DAY, wanted)
    assert await db.pool.fetchval("SELECT count(*) FROM session_param_versions") == 0
    await approve_version(db.pool, v1.version_id, by="kim", reason="judged well")
    taken = await _take(db, "w-a", DAY, str(v1.version_id))
    assert (taken.version_id, taken.approved_by, taken.params) == (
        v1.version_id, "kim", {"short": 3, "long": 9})


async def test_a_version_approved_mid_session_waits_for_the_next_session(db) -> None:  # noqa: ANN001
    v1 = await _version(db, 3, 9)
    await approve_version(db.pool, v1.version_id, by="kim", reason=None)
    assert (await _take(db, "w-a", DAY)).version_id == v1.version_id
    v2 = await _version(db, 4, 12)
    await approve_version(db.pool, v2.version_id, by="lee", reason=None)
    # the same worker restarted the same day: the version it started the session with
    assert (await _take(db, "w-a", DAY)).version_id == v1.version_id
    # its next session, and a worker starting its session now: the newly approved one
    assert (await _take(db, "w-a", DAY + timedelta(days=1))).version_id == v2.version_id
    assert (await _take(db, "w-b", DAY)).version_id == v2.version_id


async def test_the_worker_settings_carry_the_taken_version(db) -> None:  # noqa: ANN001
    v1 = await _version(db, 2, 7)
    await approve_version(db.pool, v1.version_id, by="kim", reason=None)
    settings = load_settings(None, {**ENV, "TRADEFLEET_STRATEGY__PARAM_VERSION":
                                    "latest-approved"})
    clock = FrozenClock(datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL))
    taken = await take_param_version(settings, db, clock)
    strategy = taken.strategy.build()
    assert strategy.param_version == f"pv-{v1.version_id}"
    assert (strategy.params.short, strategy.params.long) == (2, 7)
    untouched = load_settings(None, ENV)
    assert await take_param_version(untouched, db, clock) is untouched


@pytest.mark.parametrize(("env", "field"), [
    ({"TRADEFLEET_STRATEGY__PARAM_VERSION": "newest"}, "strategy.param_version"),
    ({"TRADEFLEET_STRATEGY__PARAM_VERSION": "0"}, "strategy.param_version"),
    ({"TRADEFLEET_STRATEGY__PARAM_VERSION": "3",
      "TRADEFLEET_STRATEGY__PARAMS__SHORT": "3"}, "strategy.params"),
])
def test_bad_version_settings_name_the_field(env: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(None, {**ENV, **env})


async def test_params_command_lists_shows_and_approves_once(
        db, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("TRADEFLEET_DB__DSN", pg_dsn)

    async def cli(*argv: str) -> int:      # the command runs its own event loop
        return await asyncio.to_thread(main, list(argv))

    v1 = await _version(db, 3, 9)
    vid = str(v1.version_id)
    assert await cli("params", "list") == 0
    assert "ma_breakout" in capsys.readouterr().out
    assert await cli("params", "show", vid) == 0
    assert '"short": 3' in capsys.readouterr().out
    assert await cli("params", "show", vid, "--params-only") == 0
    assert json.loads(capsys.readouterr().out) == {"short": 3, "long": 9}
    assert await cli("params", "approve", "999", "--by", "kim") == 2
    assert "ID: no parameter version 999" in capsys.readouterr().err
    with pytest.raises(SystemExit):     # argparse: --by names nobody
        main(["params", "approve", vid, "--by", "  "])
    assert await db.pool.fetchval("SELECT count(*) FROM param_versions "
                                  "WHERE approved_at IS NOT NULL") == 0
    assert await cli("params", "approve", vid, "--by", "kim", "--reason", "walk-forward ok") == 0
    assert await cli("params", "approve", vid, "--by", "lee") == 2
    assert "already approved by kim" in capsys.readouterr().err
    row = await db.pool.fetchrow("SELECT approved_by, approve_reason, approved_at <= now() "
                                 "AS db_clock FROM param_versions WHERE version_id = $1",
                                 v1.version_id)
    assert (row["approved_by"], row["approve_reason"], row["db_clock"]) == (
        "kim", "walk-forward ok", True)


async def test_a_starting_worker_takes_the_version_before_it_trades(db, logs) -> None:  # noqa: ANN001
    """The production start-up (``launch``): the version is taken and pinned before the
    worker registers; with none approved the worker does not start and writes nothing."""
    from tradefleet.adapters.clock import SimClock
    from tradefleet.adapters.sim.broker import SimBroker
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.worker.launch import launch

    settings = load_settings(None, {**ENV, "TRADEFLEET_STRATEGY__PARAM_VERSION":
                                    "latest-approved",
                                    "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": "0.2"})
    clock = SimClock(datetime(2026, 11, 24, 8, 59, tzinfo=SEOUL), speed=60)
    market = SimMarket(3, n_symbols=10, clock=clock)

    def start(built: list) -> asyncio.Task:
        return asyncio.create_task(launch(settings, broker=SimBroker(market), clock=clock,
                                          universe=market.symbols(), db=db,
                                          install_signals=False, on_built=built.append))

    with pytest.raises(ConfigError, match=r"strategy\.param_version"):
        await asyncio.wait_for(start([]), 10)     # refused at once, never left trading
    assert await db.pool.fetchval("SELECT count(*) FROM workers") == 0
    v1 = await _version(db, 2, 6)
    await approve_version(db.pool, v1.version_id, by="kim", reason=None)
    built: list = []
    task = start(built)
    for _ in range(200):
        if built or task.done():
            break
        await asyncio.sleep(0.05)
    assert built, task.result() if task.done() else "never built"
    built[0].request_stop("test over")
    assert await asyncio.wait_for(task, 10) == 0
    assert await db.pool.fetchval(
        "SELECT version_id FROM session_param_versions WHERE worker_id = 'w-pv' "
        "AND trading_day = $1", DAY) == v1.version_id
    taken = [r for r in logs.records if r.get("event") == "parameter version taken"]
    assert [r["param_version"] for r in taken] == [f"pv-{v1.version_id}"]
