"""The production worker through a recorded day (issue 21, item 2, first brick): the same
trades as through the simulated day the recording was made from (parity), and the same
trades again on a second replay (determinism). Each run has its own fresh database; the
last hour of the session (entries, exits and the forced liquidation) at 5 s polls. The
simulated day polls every time; the replays skip quiet holds and idle follower passes
and answer a read of open orders, positions or locks known to be none
(``replay.quiet_holds``), share the
step's market reads (``replay.step_reads``), read the operator's controls once a day
(``replay.day_controls``), hold their connections for the day
(``replay.held_connections``), store published events together
(``replay.deferred_events``) and answer a scan on the step of an empty one with it
(``replay.quiet_scans``), so parity also shows that these trade nothing differently."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal

import asyncpg
import pytest
from tests.conftest import TEMPLATE, _admin_uri
from tests.scenarios.harness import worker_env

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.exits import ExitParams
from tradefleet.replay.day_format import write_day
from tradefleet.replay.runner import replay_day, run_worker_day
from tradefleet.replay.sim_source import record_sim_day

SEED, SYMBOLS, DAY = 7, 40, date(2026, 11, 24)
START = time(14, 20)
TIGHT = ExitParams(stop_loss_pct=Decimal("0.4"), take_profit_pct=Decimal("0.4"),
                   trend_ma_window=120, time_exit_minutes=0)


def _env() -> dict[str, str]:
    return worker_env("w-replay", exits=TIGHT, TRADEFLEET_STRATEGY__PARAMS=json.dumps(
        {"short": 2, "long": 5, "breakout_window": 5}))


async def _fresh_db(server: str) -> Database:
    name = f"r_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await conn.close()
    return await Database.connect(_admin_uri(server, name), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def recorded_day(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return write_day(tmp_path_factory.mktemp("days"), record_sim_day(SEED, SYMBOLS, DAY))


async def test_a_replayed_day_trades_as_the_simulated_day_and_again_the_same(
        pg_server_uri, recorded_day):  # noqa: ANN001
    runs = []
    for kind in ("live", "replay", "replay"):
        db = await _fresh_db(pg_server_uri)
        try:
            if kind == "live":
                clock = FrozenClock(datetime.combine(DAY, START, tzinfo=SEOUL))
                # every poll, as a live worker polls: the reference for the replay's
                # skipped quiet holds (replay.quiet_holds), its step-shared reads
                # (replay.step_reads) and its data
                runs.append(await run_worker_day(SimMarket(SEED, n_symbols=SYMBOLS,
                                                           clock=clock), clock, db, _env(),
                                                 quiet_holds=False, shared_reads=False,
                                                 day_controls=False,
                                                 held_connections=False,
                                                 quiet_scans=False,
                                                 bare_reads=False,
                                                 step_scans=False))
            else:
                runs.append(await replay_day(recorded_day, db, _env(), start=START))
        finally:
            await db.close()
    live, replayed, again = runs
    assert len(live.trades) >= 2, live.trades              # the hour trades at all
    assert all(t["exit_reason"] for t in live.trades)      # and ends flat
    assert replayed.trades == live.trades                  # parity: symbol, qty, prices,
    #                                                        reason, PnL, param version
    assert again.trades == replayed.trades                 # determinism
    assert replayed.polls == live.polls
    assert live.quiet_skipped == 0 < replayed.quiet_skipped    # the skips were taken
    assert live.follower_skipped == 0 < replayed.follower_skipped   # idle follower passes
    assert live.controls_served == 0 < replayed.controls_served  # controls read once a day
    assert live.orders_known == 0 < replayed.orders_known    # open orders known to be none
    assert live.held_known == 0 < replayed.held_known        # and positions and locks
    assert live.events_deferred == 0 < replayed.events_deferred  # events stored together
    assert live.bare_reads == 0 < replayed.bare_reads      # reads past metering and faults
    # (this hour's worker always ranks a candidate: its quiet scans are in test_quiet_scans)
    assert live.scans_skipped == 0
    print(f"\nreplay: {replayed.polls} polls, {replayed.session_s:.0f} session s in "
          f"{replayed.wall_s:.1f} wall s = {replayed.speed:.0f}x ({replayed.quiet_skipped} "
          f"quiet holds skipped); {len(live.trades)} trades")
