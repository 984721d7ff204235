"""Clocks: aware Seoul time, SimClock speed, and one SimClock shared across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock, SimClock, WallClock
from tradefleet.ports.clock import Clock


def test_wall_clock_is_aware_seoul_and_a_clock() -> None:
    clock = WallClock()
    assert isinstance(clock, Clock)
    now = clock.now()
    assert now.utcoffset() == timedelta(hours=9)
    assert abs((now - datetime.now(SEOUL)).total_seconds()) < 1


async def test_sim_clock_runs_at_its_speed() -> None:
    clock = SimClock.starting_at(date(2026, 11, 24), "09:00", speed=600.0)
    assert isinstance(clock, Clock)
    start = clock.now()
    assert start.utcoffset() == timedelta(hours=9)
    await clock.sleep(60.0)             # 60 sim seconds = 0.1 real seconds
    elapsed = (clock.now() - start).total_seconds()
    assert 60.0 <= elapsed < 60.0 + 600.0 * 0.5


def test_sim_clock_formula_is_reproducible_from_its_three_numbers() -> None:
    real_start = time.time() - 10.0
    start = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
    clock = SimClock(start, 60.0, real_start)
    twin = SimClock.from_env(clock.to_env())
    a, b = clock.now(), twin.now()
    assert abs((a - b).total_seconds()) < 60.0 * 0.05
    # ten real seconds at speed 60 is ten sim minutes
    assert abs((a - start).total_seconds() - 600.0) < 60.0 * 0.5


def test_sim_clock_shared_with_another_process() -> None:
    clock = SimClock.starting_at(date(2026, 11, 24), "10:00", speed=30.0)
    env = dict(os.environ, TF_SIM_CLOCK=clock.to_env())
    code = ("import os; from tradefleet.adapters.clock import SimClock; "
            "print(SimClock.from_env(os.environ['TF_SIM_CLOCK']).now().isoformat())")
    before = clock.now()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    after = clock.now()
    theirs = datetime.fromisoformat(out.stdout.strip())
    assert before <= theirs <= after


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match="sim_start"):
        SimClock(datetime(2026, 11, 24, 9, 0), 1.0)
    with pytest.raises(ValueError, match="speed"):
        SimClock(datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL), 0.0)
    with pytest.raises(ValueError, match="hhmm"):
        SimClock.starting_at(date(2026, 11, 24), "nine", 1.0)
    with pytest.raises(ValueError, match="sim clock env"):
        SimClock.from_env("{}")


async def test_frozen_clock_moves_only_when_told() -> None:
    start = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
    clock = FrozenClock(start)
    assert clock.now() == start
    await clock.sleep(30)
    assert clock.now() == start + timedelta(seconds=30)


async def test_held_sim_clock_stands_still_until_released_in_every_process(tmp_path) -> None:
    import asyncio

    start = datetime(2026, 11, 24, 8, 58, tzinfo=SEOUL)
    clock = SimClock.held(start, 600.0, tmp_path / "clock-start")
    twin = SimClock.from_env(clock.to_env())            # another process's copy
    assert clock.is_held and twin.is_held
    await asyncio.wait_for(clock.sleep(3600), 5)        # a sleeper wakes to look again...
    assert clock.now() == twin.now() == start           # ...and no time has passed
    code = ("import os; from tradefleet.adapters.clock import SimClock; "
            "print(SimClock.from_env(os.environ['TF_SIM_CLOCK']).now().isoformat())")
    env = dict(os.environ, TF_SIM_CLOCK=clock.to_env())
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    assert datetime.fromisoformat(out.stdout.strip()) == start

    clock.release(time.time() - 1.0)                    # started a real second ago
    assert not twin.is_held
    ran = (twin.now() - start).total_seconds()
    assert 600.0 <= ran < 600.0 * 30                    # 600 sim seconds per real second
    assert abs((clock.now() - twin.now()).total_seconds()) < 600.0 * 0.5
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    assert datetime.fromisoformat(out.stdout.strip()) > start + timedelta(seconds=600)


def test_only_a_held_clock_can_be_released() -> None:
    with pytest.raises(ValueError, match="release"):
        SimClock.starting_at(date(2026, 11, 24), "09:00", 1.0).release()
    with pytest.raises(ValueError, match="sim clock env"):
        SimClock.from_env('{"sim_start": "2026-11-24T09:00:00+09:00", "speed": 1, '
                          '"real_start": null, "start_file": 7}')
    with pytest.raises(ValueError, match="real_start"):
        SimClock.from_env('{"sim_start": "2026-11-24T09:00:00+09:00", "speed": 1, '
                          '"real_start": null}')


async def test_a_shared_clock_slowed_down_slows_every_sharer_without_stepping_back(
        tmp_path) -> None:
    import asyncio

    start = datetime(2026, 11, 24, 9, 0, tzinfo=SEOUL)
    clock = SimClock.held(start, 600.0, tmp_path / "clock-start")
    twin = SimClock.from_env(clock.to_env())            # another process's copy
    clock.release()
    assert twin.speed == 600.0
    effective = clock.retime(60.0, delay_s=0.5)
    seen: list[datetime] = []
    while time.time() < effective + 0.6:
        seen.append(twin.now())
        await asyncio.sleep(0.01)
    assert seen == sorted(seen)                          # never a step back
    assert twin.speed == clock.speed == 60.0
    # both agree with the piecewise formula: 600x until the change, 60x after it
    at = time.time()
    expected = start + timedelta(seconds=(effective - clock.real_start) * 600
                                 + (at - effective) * 60)
    for c in (clock, twin):
        assert abs((c.at_real(at) - expected).total_seconds()) < 1e-3
    # the record of the day (session_clocks) keeps the change, for reports
    kept = SimClock.from_env(clock.to_env())
    assert abs((kept.at_real(at) - expected).total_seconds()) < 1e-3
    with pytest.raises(ValueError, match="retime"):
        SimClock.starting_at(date(2026, 11, 24), "09:00", 1.0).retime(2.0)
