"""The replay's step-shared market reads (``replay.step_reads``): a read served from the
memo is the read the market would have given at that clock time, a new clock time reads
the market again, and what one caller does with its answer does not reach the next. A
two-worker fleet day trades the same with and without the memo (the parity test,
``test_replay_runner``, compares a replay with it to the simulated day without)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from tests.fleet_day_rig import replayed_off_and_on

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.errors import OrderRejected
from tradefleet.replay.day_format import write_day
from tradefleet.replay.sim_source import record_sim_day
from tradefleet.replay.step_reads import StepReads

SEED, SYMBOLS, DAY = 11, 20, date(2026, 11, 24)
AT = datetime.combine(DAY, time(10, 0), tzinfo=SEOUL)


def _markets() -> tuple[FrozenClock, SimMarket, SimMarket, StepReads]:
    """Two markets of one seed on one clock: one read through the memo, one as it is."""
    clock = FrozenClock(AT)
    memo = SimMarket(SEED, n_symbols=SYMBOLS, clock=clock)
    plain = SimMarket(SEED, n_symbols=SYMBOLS, clock=clock)
    return clock, memo, plain, StepReads(memo).install()


def test_a_read_from_the_memo_is_the_markets_read_at_that_time_and_a_new_time_reads_again(
        ) -> None:
    clock, memo, plain, reads = _markets()
    symbol = plain.symbols()[3]
    seen_changed = False
    for _ in range(8):                                  # 8 polls 5 s apart: 4 market steps
        before = plain.minute_bars(symbol, 30), plain.quotes()
        for _ in range(3):                              # three workers at one clock time
            assert memo.minute_bars(symbol, 30) == before[0]
            assert memo.quotes() == before[1]
            assert memo.quote(symbol) == before[1][symbol]
        clock.set(clock.now() + timedelta(seconds=5))
        after = plain.quotes()
        seen_changed |= after != before[1]
        assert memo.quotes() == after                   # the new time's, not the memo's
    assert seen_changed                                 # the market did move meanwhile
    assert reads.served > 0


def test_minute_bars_with_the_finished_ones_kept_are_the_markets_all_day() -> None:
    """Every 5 s from the open to the close, bars of every length (none, the running one,
    a few, more than the day has) and an unknown symbol, against the market's own read."""
    clock, memo, plain, _ = _markets()
    symbol = plain.symbols()[5]
    clock.set(memo.open_at)
    while clock.now() <= memo.close_at:
        for count in (0, 1, 2, 31, 500):
            assert memo.minute_bars(symbol, count) == plain.minute_bars(symbol, count)
        clock.set(clock.now() + timedelta(seconds=5))
    assert len(memo.minute_bars(symbol, 500)) == 390            # the whole day was read
    with pytest.raises(OrderRejected):
        memo.minute_bars("NOPE", 3)


def test_bars_of_many_symbols_at_once_are_each_ones_own_read_all_day() -> None:
    """Every 5 s from before the open to after the close, the bars of every symbol at
    once (none, the running one, a few, more than the day has), the first read at each
    time or after one symbol's own read, against the market's own reads."""
    clock, memo, plain, reads = _markets()
    symbols = plain.symbols()
    clock.set(memo.open_at - timedelta(seconds=5))
    polls = 0
    while clock.now() <= memo.close_at + timedelta(seconds=5):
        polls += 1
        if polls % 2:                                   # one symbol's own read first
            memo.minute_bars(symbols[2], 31)
        for count in (31, 0, 1, 2, 500):
            assert reads.minute_bars_of(symbols, count) == {
                s: plain.minute_bars(s, count) for s in symbols}
        clock.set(clock.now() + timedelta(seconds=5))
    assert len(reads.minute_bars_of(symbols, 500)[symbols[0]]) == 390
    assert reads.served > 0
    with pytest.raises(OrderRejected):
        reads.minute_bars_of([symbols[0], "NOPE"], 3)


def test_newest_bars_kept_per_step_are_the_markets_for_every_symbol_all_day() -> None:
    """Every 5 s from before the open to after the close (two polls per 10 s step), every
    symbol's bars in turn (the running minute's kept for the step from the first symbol's
    read on), against the market's own read; a quotes read first on odd polls."""
    clock, memo, plain, _ = _markets()
    symbols = plain.symbols()
    clock.set(memo.open_at - timedelta(seconds=10))
    poll = 0
    while clock.now() <= memo.close_at + timedelta(seconds=10):
        if poll % 2:
            assert memo.quotes() == plain.quotes()
        for symbol in symbols:
            for count in (1, 3):
                assert memo.minute_bars(symbol, count) == plain.minute_bars(symbol, count), (
                    clock.now(), symbol, count)
        clock.set(clock.now() + timedelta(seconds=5))
        poll += 1
    assert len(memo.minute_bars(symbols[-1], 500)) == 390


def test_quotes_of_symbols_asked_for_already_are_the_markets_all_day() -> None:
    """Every 35 s from the open to the close: a few symbols, then some of them with one not
    asked for yet, the universe, single symbols (an exit check's), reversed, repeated and
    unknown ones, each against the market's own read at that time."""
    clock, memo, plain, reads = _markets()
    s = plain.symbols()
    requests = [[s[1], s[2]], [s[2], s[3]], [s[3], "NOPE", s[1]], ["NOPE"], list(s),
                [s[9]], [s[9], s[0], s[9]], list(reversed(s)), [], None]
    clock.set(memo.open_at)
    while clock.now() <= memo.close_at:
        for symbols in requests:
            want = plain.quotes(symbols)
            got = memo.quotes(symbols)
            assert got == want and list(got) == list(want), symbols
        clock.set(clock.now() + timedelta(seconds=35))          # steps of every phase
    assert reads.served > 0


def test_what_a_caller_does_with_its_answer_does_not_reach_the_next_caller() -> None:
    _, memo, plain, _ = _markets()
    symbol = plain.symbols()[0]
    bars, quotes = memo.minute_bars(symbol, 30), memo.quotes()
    bars.clear()
    quotes.clear()
    assert memo.minute_bars(symbol, 30) == plain.minute_bars(symbol, 30) != []
    assert memo.quotes() == plain.quotes() != {}


@pytest.fixture(scope="module")
def recorded_day(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return write_day(tmp_path_factory.mktemp("days"), record_sim_day(7, 40, DAY))


async def test_a_fleet_trades_the_same_with_its_reads_shared(pg_server_uri, recorded_day
                                                             ) -> None:  # noqa: ANN001
    alone, shared_run = await replayed_off_and_on(pg_server_uri, recorded_day, shared_reads=True)
    assert len({t["worker_id"] for t in alone.trades}) >= 2, alone.trades   # a fleet traded
    assert shared_run.trades == alone.trades
    assert alone.reads_shared == 0 < shared_run.reads_shared
    print(f"\n{len(alone.trades)} trades; {shared_run.reads_shared} reads shared")
