"""A day recorded from the simulator every 10 s, read back as the simulator's tape and
universe, is the simulator's own market step for step (issue 21: the replay exchange's
parity rests on it). The reference is a fresh simulator of the same seed, stepped alongside."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from tradefleet.adapters.sim.price_path import Tape
from tradefleet.adapters.sim.universe import build_universe
from tradefleet.domain.errors import ConfigError
from tradefleet.replay.day_format import read_day, write_day
from tradefleet.replay.recorded_tape import RecordedTape, recorded_universe
from tradefleet.replay.sim_source import record_sim_day

SEED, SYMBOLS, DAY = 13, 12, date(2026, 11, 24)
ARRAYS = ("price", "volume", "traded_value", "high", "low", "bar_open", "bar_high",
          "bar_low", "bar_close", "bar_volume", "bar_value")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = write_day(tmp_path_factory.mktemp("days"), record_sim_day(SEED, SYMBOLS, DAY))
    return read_day(folder)


def test_the_recorded_universe_is_the_simulators(recorded):  # noqa: ANN001
    want = build_universe(SEED, SYMBOLS)
    got = recorded_universe(recorded)
    order = [want.symbols.index(s) for s in got.symbols]
    for name in ("prev_close", "prev_high", "prev_low", "lower_limit", "upper_limit",
                 "spread_ticks", "depth"):
        assert getattr(got, name).tolist() == getattr(want, name)[order].tolist(), name
    assert got.markets == tuple(want.markets[i] for i in order)


def test_the_recorded_tape_is_the_simulators_step_for_step(recorded):  # noqa: ANN001
    universe = build_universe(SEED, SYMBOLS)
    live = Tape(SEED, universe, n_minutes=390)
    replayed = RecordedTape(recorded, universe.symbols)
    assert replayed.last_step == 390 * 6
    for k in range(replayed.last_step):
        live.step()
        replayed.step()
        if k % 97 == 0 or k >= replayed.last_step - 7:
            minutes = live.minutes_started()
            assert replayed.minutes_started() == minutes
            for name in ARRAYS:
                a, b = getattr(live, name), getattr(replayed, name)
                if name.startswith("bar_"):
                    a, b = a[:minutes], b[:minutes]
                assert np.array_equal(a, b), (k, name)
            assert np.array_equal(live.open, replayed.open), k
            # k % 97 lands on every sub-step of a minute over the day: the running minute's
            # bar is compared too, and it is built from steps so far, never the finished bar
    with pytest.raises(ValueError, match="no step after the close"):
        replayed.step()


def test_a_day_without_depth_or_markets_needs_them_named(recorded):  # noqa: ANN001
    from dataclasses import replace

    bare = replace(recorded, meta=replace(recorded.meta, book_levels=0,
                                          symbols=dict.fromkeys(recorded.meta.symbols)))
    with pytest.raises(ConfigError, match="recorded without book levels"):
        recorded_universe(bare)
    with pytest.raises(ConfigError, match="no market recorded for"):
        recorded_universe(bare, default_depth=100)
    u = recorded_universe(bare, default_depth=100, unknown_market="KOSDAQ")
    assert set(u.depth.tolist()) == {100} and set(u.markets) == {"KOSDAQ"}
