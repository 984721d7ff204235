"""The exchange simulator over a recorded day (``SimMarket(recorded=...)``) against the
simulator that made the day: the same orders at the same times get the same fills, prices,
partial fills and resting orders, and the same quotes, bars and balance (issue 21: the
replay exchange is the simulator's matching over recorded prices, not a second model)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.replay.day_format import read_day, write_day
from tradefleet.replay.recorded_tape import RecordedTape, recorded_universe
from tradefleet.replay.sim_source import record_sim_day

SEED, SYMBOLS, DAY = 13, 12, date(2026, 11, 24)
OPEN = datetime.combine(DAY, time(9, 0), tzinfo=SEOUL)


@pytest.fixture(scope="module")
def markets(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    day = read_day(write_day(tmp_path_factory.mktemp("days"), record_sim_day(SEED, SYMBOLS, DAY)))
    universe = recorded_universe(day)
    live_clock, replay_clock = FrozenClock(OPEN), FrozenClock(OPEN)
    live = SimMarket(SEED, n_symbols=SYMBOLS, clock=live_clock)
    replay = SimMarket(0, n_symbols=SYMBOLS, clock=replay_clock,
                       recorded=(universe, RecordedTape(day, universe.symbols)))
    return live, replay, live_clock, replay_clock


def _at(clocks, moment: datetime) -> None:  # noqa: ANN001
    for clock in clocks:
        clock.set(moment)


def test_the_same_orders_fill_alike_on_the_recorded_day(markets):  # noqa: ANN001
    live, replay, *clocks = markets
    assert sorted(live.symbols()) == sorted(replay.symbols())
    by_value = sorted(live.symbols(), key=lambda s: live.quote(s).traded_value)
    thin, liquid = by_value[0], by_value[-1]
    plan = [  # (minutes after the open, symbol, side, type, qty, limit as ticks off the bid)
        (31.5, liquid, Side.BUY, OrderType.MARKET, 40, None),
        (47.0, thin, Side.BUY, OrderType.MARKET, 5_000, None),      # walks the thin book
        (75.2, liquid, Side.BUY, OrderType.LIMIT, 30, -2),          # rests below the bid
        (190.0, liquid, Side.SELL, OrderType.MARKET, 40, None),
    ]
    ids = []
    for n, (minutes, symbol, side, kind, qty, off) in enumerate(plan):
        _at(clocks, OPEN + timedelta(minutes=minutes))
        quote = live.quote(symbol)
        assert quote == replay.quote(symbol)
        limit = None if off is None else int(ticks.step_ticks(np.array([quote.bid]), off)[0])
        acks = [m.submit(OrderRequest(f"c{n}", symbol, side, kind, qty, limit))
                for m in (live, replay)]
        assert acks[0].broker_order_id == acks[1].broker_order_id
        ids.append(acks[0].broker_order_id)
    for minutes in (200, 260, 389):
        _at(clocks, OPEN + timedelta(minutes=minutes))
        for order_id in ids:
            assert live.report(order_id) == replay.report(order_id), (minutes, order_id)
        for symbol in (thin, liquid):
            assert live.minute_bars(symbol, 400) == replay.minute_bars(symbol, 400)
            assert live.book_levels(symbol) == replay.book_levels(symbol)
    reports = [live.report(i) for i in ids]
    assert reports[0].filled_qty == 40 and reports[3].filled_qty == 40
    assert 0 < reports[1].filled_qty               # a thin book fills some, maybe not all
    assert live.balance() == replay.balance()
    assert live.executions() == replay.executions()
