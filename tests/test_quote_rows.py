"""The simulator's quote fields kept per tape step (``adapters.sim.quote_rows``): every read
of a whole day, on the seeded tape and on a recorded one, is the quote computed afresh from
the tape at that time, whatever was read before it in the same step."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.quote_rows import compute_rows
from tradefleet.domain.market import Quote
from tradefleet.replay.day_format import read_day, write_day
from tradefleet.replay.recorded_tape import RecordedTape, recorded_universe
from tradefleet.replay.sim_source import record_sim_day

SEED, SYMBOLS, DAY = 11, 20, date(2026, 11, 24)


def _afresh(market: SimMarket, symbols: list[str] | None) -> dict[str, Quote]:
    """What ``SimMarket.quotes`` computed before the fields were kept: the tape now."""
    names = market.universe.symbols if symbols is None else \
        [s for s in symbols if s in market._index]
    rows = compute_rows(market.universe, market._tape, market._index, names)
    return {s: Quote(s, *rows[s], market.clock.now()) for s in names}


def _seeded() -> SimMarket:
    return SimMarket(SEED, n_symbols=SYMBOLS, clock=FrozenClock(
        datetime.combine(DAY, time(9, 0), tzinfo=SEOUL)))


def _recorded(folder) -> SimMarket:  # noqa: ANN001
    day = read_day(folder)
    universe = recorded_universe(day)
    clock = FrozenClock(day.meta.session_open.astimezone(SEOUL))
    return SimMarket(0, n_symbols=len(universe.symbols), clock=clock, day=day.meta.day,
                     recorded=(universe, RecordedTape(day, universe.symbols)))


@pytest.fixture(scope="module")
def recorded_folder(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return write_day(tmp_path_factory.mktemp("days"), record_sim_day(SEED, SYMBOLS, DAY))


@pytest.mark.parametrize("kind", ["seeded", "recorded"])
def test_every_read_of_a_day_is_the_quote_computed_afresh(kind, recorded_folder) -> None:  # noqa: ANN001
    """Every 5 s from before the open to after the close (two reads per 10 s step): one
    symbol first, then the universe, then others, repeated and unknown ones, each against
    the quote computed from the tape at that moment."""
    market = _seeded() if kind == "seeded" else _recorded(recorded_folder)
    s = market.symbols()
    requests = [[s[4]], None, [s[4], s[7]], [s[0], "NOPE", s[0]], list(reversed(s)), []]
    clock = market.clock
    clock.set(market.open_at - timedelta(seconds=10))
    moved = 0
    last = None
    while clock.now() <= market.close_at + timedelta(seconds=10):
        for k, symbols in enumerate(requests[clock.now().second // 5 % 2:]):
            got = market.quotes(symbols)
            want = _afresh(market, symbols)
            assert got == want and list(got) == list(want), (clock.now(), k, symbols)
        prices = {q.symbol: q.price for q in market.quotes(None).values()}
        moved += last is not None and prices != last
        last = prices
        clock.set(clock.now() + timedelta(seconds=5))
    assert moved > 100                      # the prices did move all day
