"""The replay's once-a-day read of the operator's controls (``replay.day_controls``): each
worker reads its ``worker_controls`` row at its first poll and keeps that answer for the
day. A pause written before the day is obeyed by the worker it names and by no other, and
the later polls are answered without a read; the day's held connections
(``replay.held_connections``) are given back to the pool at its end. (The parity test,
``test_replay_runner``, compares a replay with both to the simulated day without.)"""

from __future__ import annotations

from datetime import date

import pytest
from tests.fleet_day_rig import AFTERNOON, tight_fleet
from tests.test_held_connections import close_unless_held
from tests.test_replay_runner import _fresh_db

from tradefleet.adapters.postgres.worker_controls_store import PostgresWorkerControls
from tradefleet.replay.day_format import write_day
from tradefleet.replay.runner import replay_fleet_day
from tradefleet.replay.sim_source import record_sim_day

DAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def recorded_day(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return write_day(tmp_path_factory.mktemp("days"), record_sim_day(7, 40, DAY))


async def test_a_pause_written_before_the_day_holds_its_worker_all_day_and_no_other(
        pg_server_uri, recorded_day) -> None:  # noqa: ANN001
    fleet = tight_fleet(2)
    db = await _fresh_db(pg_server_uri)
    try:
        assert await PostgresWorkerControls(db).set_paused("bt-1", True)
        run = await replay_fleet_day(recorded_day, db, fleet, start=AFTERNOON)
        orders = await db.pool.fetch("SELECT worker_id, side FROM orders")
        given_back = db.pool.get_idle_size() == db.pool.get_size()
    finally:
        await close_unless_held(db)
    assert given_back                # the day's held connections are the pool's again
    assert {o["worker_id"] for o in orders} == {"bt-2"}, orders  # bt-1 paused all day
    assert {t["worker_id"] for t in run.trades} == {"bt-2"}
    assert run.controls_served > 0                     # the later polls were not read
    print(f"\n{len(run.trades)} trades; {run.controls_served} polls given the day's controls")
