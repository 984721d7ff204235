"""The compressed day never outruns the fleet: workers record their poll lag (session time
at the start and end of each poll) in Postgres; the pacer slows the shared session clock when
a poll lasts longer than the limit, speeds it up again once the fleet is calm, and says
plainly when even the slowest speed cannot keep the lag under the limit."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest

from tradefleet.adapters.clock import REREAD_S, RETIME_DELAY_S, SEOUL, SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.poll_lag_store import PostgresPollLagStore, fleet_lag
from tradefleet.local_fleet import pace
from tradefleet.local_fleet.pace import PacePolicy, SessionPacer, start_speed
from tradefleet.worker.poll_lag import PollLagMeter

OPEN = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)


def test_the_start_speed_falls_with_the_worker_count_per_core():
    policy = PacePolicy(lag_limit_s=300, min_speed=10)
    speeds = [start_speed(600, n, 2, policy=policy) for n in (3, 20, 50, 400)]
    assert speeds[0] == 600                              # a few workers: as asked
    assert speeds == sorted(speeds, reverse=True) and speeds[2] < speeds[0]
    # at the derived speed, every worker's poll (POLL_CPU_S each, on 2 cores) fits a third
    # of the limit
    assert 50 * pace.POLL_CPU_S / 2 * speeds[2] <= 300 / 3 + speeds[2] / 2
    assert speeds[3] >= 10                               # never below the floor
    assert start_speed(600, 50, 4, policy=policy) > speeds[2]    # more cores, faster


async def test_worker_poll_lag_is_recorded_in_session_time(pg_dsn):
    db = await Database.connect(pg_dsn, min_size=1, max_size=2)
    try:
        meter = PollLagMeter(PostgresPollLagStore(db), "w1", write_every_s=0)
        await meter.observe(OPEN, OPEN + timedelta(seconds=40))
        await meter.observe(OPEN + timedelta(minutes=1), OPEN + timedelta(minutes=1, seconds=5))
        lag = await fleet_lag(db, OPEN.date(), look_back_s=60)
        assert (lag.recent_max_s, lag.day_max_s, lag.workers, lag.polls) == (5, 40, 1, 2)
    finally:
        await db.close()


async def _lag(db: Database, worker: str, seconds: float) -> None:
    await PostgresPollLagStore(db).record(worker, OPEN.date(), polls=1,
                                          recent_max_lag_s=seconds, max_lag_s=seconds,
                                          last_poll_at=OPEN)


async def test_a_lagging_fleet_slows_the_shared_clock_and_a_calm_one_speeds_it_up(
        pg_dsn, tmp_path, monkeypatch):
    monkeypatch.setattr(pace, "SETTLE_S", 0.0)
    monkeypatch.setattr(pace, "CALM_S", 0.0)
    db = await Database.connect(pg_dsn, min_size=1, max_size=2)
    clock = SimClock.held(OPEN, 600.0, tmp_path / "clock-start")
    worker_clock = SimClock.from_env(clock.to_env())     # a worker process's copy
    clock.release(time.time() - 1)
    try:
        pacer = SessionPacer(db, clock, PacePolicy(lag_limit_s=120, min_speed=10),
                             max_speed=600.0)
        await _lag(db, "w1", 60)                         # within the limit: nothing
        assert await pacer.check() is None and clock.speed == 600
        await _lag(db, "w2", 480)                        # one worker's poll: 8 session min
        change = await pacer.check()
        assert change is not None and change.from_speed == 600
        assert change.to_speed < 600 * 120 / 480         # slowed below what fits the limit
        await asyncio.sleep(RETIME_DELAY_S + REREAD_S + 0.1)
        assert worker_clock.speed == clock.speed == change.to_speed   # every sharer slowed
        await _lag(db, "w1", 10)
        await _lag(db, "w2", 10)                         # calm now: back up, step by step
        up = await pacer.check()
        assert up is not None and change.to_speed < up.to_speed <= 600
        assert pacer.kept_up and "pace kept" in pacer.verdict()
    finally:
        await db.close()


async def test_the_pacer_says_so_when_even_the_slowest_speed_cannot_keep_up(
        pg_dsn, tmp_path, monkeypatch):
    monkeypatch.setattr(pace, "SETTLE_S", 0.0)
    db = await Database.connect(pg_dsn, min_size=1, max_size=2)
    clock = SimClock.held(OPEN, 20.0, tmp_path / "clock-start")
    clock.release()
    try:
        pacer = SessionPacer(db, clock, PacePolicy(lag_limit_s=120, min_speed=20))
        await _lag(db, "w1", 900)
        assert await pacer.check() is None               # already at the slowest speed
        assert pacer.kept_up                             # one long poll is not yet behind
        monkeypatch.setattr(pace, "BEHIND_S", 0.2)
        await asyncio.sleep(0.3)
        await _lag(db, "w1", 900)                        # still over the limit: behind
        assert await pacer.check() is None
        assert not pacer.kept_up
        assert "could not keep up" in pacer.verdict()
        await _lag(db, "w1", 10)                         # a calm look does not undo it
        await pacer.check()
        assert not pacer.kept_up
    finally:
        await db.close()


def test_bad_pace_settings_name_the_field():
    with pytest.raises(ValueError, match="lag_limit_s"):
        PacePolicy(lag_limit_s=0)
    with pytest.raises(ValueError, match="min_speed"):
        PacePolicy(min_speed=-1)
