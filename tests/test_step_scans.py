"""The replay's shared scan rankings (``replay.step_scans``): a worker is handed the
ranking another worker made only at the same clock time, for the same universe in the same
order and the same scan key, with no fault rule armed then or now, on the replay's own
broker stack, each worker getting its own copy; and a fleet day trades the same with and
without (the parity test, ``test_replay_runner``, compares a replay with it to the
simulated day without)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial
from types import SimpleNamespace

from tests.fleet_day_rig import same_trades_off_and_on

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.telemetry.metered_broker import MeteredBroker
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.strategies import get_strategy
from tradefleet.replay.bare_reads import BareReads
from tradefleet.replay.step_reads import StepReads
from tradefleet.replay.step_scans import StepScans
from tradefleet.services.scan_service import SPARE_BARS, ScanService
from tradefleet.worker.retry import BrokerReadRetry

DAY = date(2026, 11, 24)
AT = datetime.combine(DAY, time(10, 30), tzinfo=SEOUL)
PARAMS = {"short": 2, "long": 5, "breakout_window": 5}


def _market() -> SimMarket:
    return SimMarket(5, n_symbols=12, clock=FrozenClock(AT), day=DAY)


def _cycle(market: SimMarket, scans: StepScans, *, min_volume: int = 0,
           params: dict | None = None, universe: list[str] | None = None):  # noqa: ANN202
    """A stand-in cycle over a real scanner of ``market``, watched by ``scans``; returns
    (its scan's universe, the scanner, the count of rankings it made itself)."""
    broker = MeteredBroker(SimBroker(market), lambda *_: None)
    scanner = ScanService(broker, None, None,  # type: ignore[arg-type]
                          get_strategy("ma_breakout", params or PARAMS),
                          FilterParams(min_volume, 0, 50), worker_id="w")
    made = [0]
    own = scanner._ranking

    async def counted(universe):  # noqa: ANN001, ANN202
        made[0] += 1
        return await own(universe)

    scanner._ranking = counted
    universe = universe or sorted(market.symbols())
    scans.watch(SimpleNamespace(_scan=partial(scanner.scan, universe)))
    return universe, scanner, made


def _same(a: tuple, b: tuple) -> bool:
    return (a[0] == b[0] and a[1] == b[1] and (a[2] == b[2]).all() and (a[3] == b[3]).all()
            and a[4] == b[4])


async def test_a_second_worker_at_the_same_time_gets_the_first_ones_ranking() -> None:
    market = _market()
    scans = StepScans(market)
    u1, s1, made1 = _cycle(market, scans)
    u2, s2, made2 = _cycle(market, scans)
    first = await s1._ranking(u1)
    second = await s2._ranking(u2)
    assert made1 == [1] and made2 == [0] and scans.served == 1
    assert _same(first, second) and first[0], first    # symbols passed: a real ranking
    market.clock.set(AT + timedelta(seconds=10))        # the market stepped: made again
    third = await s2._ranking(u2)
    assert made2 == [1] and scans.served == 1
    assert [q.at for q in third[0]] != [q.at for q in first[0]]


async def test_a_different_scan_key_or_universe_order_makes_its_own() -> None:
    market = _market()
    scans = StepScans(market)
    u1, s1, _ = _cycle(market, scans)
    u2, s2, made2 = _cycle(market, scans, min_volume=10**12)        # other filters
    u3, s3, made3 = _cycle(market, scans, universe=list(reversed(u1)))
    u4, s4, made4 = _cycle(market, scans, params={**PARAMS, "long": 6})
    mine = await s1._ranking(u1)
    other = await s2._ranking(u2)
    reversed_ = await s3._ranking(u3)
    await s4._ranking(u4)
    assert made2 == made3 == made4 == [1] and scans.served == 0
    assert other[0] == [] != mine[0]
    assert [q.symbol for q in reversed_[0]] == [q.symbol for q in reversed(mine[0])]


async def test_no_ranking_is_handed_on_while_a_fault_rule_is_armed_then_or_now() -> None:
    market = _market()
    scans = StepScans(market)
    u1, s1, _ = _cycle(market, scans)
    u2, s2, made2 = _cycle(market, scans)
    rule = market.faults.add("get_balance", "timeout", count=1)   # armed when made
    await s1._ranking(u1)
    market.faults.remove(rule)
    await s2._ranking(u2)
    assert made2 == [1] and scans.served == 0

    u3, s3, made3 = _cycle(market, scans)                # kept now (s2's, unfaulted)
    market.faults.add("get_balance", "timeout", count=1)          # armed now
    await s3._ranking(u3)
    assert made3 == [1] and scans.served == 0


async def test_each_worker_gets_its_own_copy() -> None:
    market = _market()
    scans = StepScans(market)
    u1, s1, _ = _cycle(market, scans)
    u2, s2, _ = _cycle(market, scans)
    u3, s3, _ = _cycle(market, scans)
    first = await s1._ranking(u1)
    second = await s2._ranking(u2)
    second[0].clear()
    second[1]["x"] += 1
    second[2][:] = not second[2][0]
    for d in second[4]:
        d["x"] = 1
    third = await s3._ranking(u3)
    assert _same(first, third) and scans.served == 2


async def test_bars_are_read_in_turn_as_the_gather_reads_them_only_without_a_fault_rule(
        ) -> None:
    market = _market()
    scans = StepScans(market)
    universe, scanner, _ = _cycle(market, scans)
    symbols = universe[:5]
    in_turn = await scanner._fetch_bars(symbols)
    usual = await ScanService._fetch_bars(scanner, symbols)     # the gather of a task each
    assert scans.bars_in_turn == 1 and list(in_turn) == symbols
    assert in_turn == usual and all(in_turn.values())
    market.faults.add("get_balance", "timeout", count=1)
    assert await scanner._fetch_bars(symbols) == usual
    assert scans.bars_in_turn == 1                      # the gather ran under the rule


async def test_bars_are_read_at_once_as_in_turn_only_through_the_retry_and_bare_reads(
        ) -> None:
    """A scan's bars as one ``StepReads.minute_bars_of`` (6.): the same dict as the loop
    of reads, only when the scanner reads through the worker's retry and its broker was
    given the bare reads, and never under a fault rule."""
    market = _market()
    plain = _market()                                       # the market's own reads
    scans = StepScans(market, reads=StepReads(market).install(), bare=BareReads(market))
    universe, scanner, _ = _cycle(market, scans)
    symbols = universe[:6]
    count = int(scanner._strategy.bars_needed) + 1 + SPARE_BARS
    direct, retry = scanner._read, BrokerReadRetry(None, worker_id="w").call  # type: ignore[arg-type]
    scanner._read = retry
    in_turn = await scanner._fetch_bars(symbols)            # the broker reads metered
    assert scans.bars_at_once == 0 and scans.bars_in_turn == 1
    bare = scans._bare
    bare.watch(SimpleNamespace(_broker=scanner._broker))
    scanner._read = direct
    assert await scanner._fetch_bars(symbols) == in_turn
    assert scans.bars_at_once == 0                          # not the retry's read: the loop
    scanner._read = retry
    for seconds in (0, 5, 10, 65, 600):                     # polls on and between steps
        market.clock.set(AT + timedelta(seconds=seconds))
        plain.clock.set(market.clock.now())
        served = bare.served
        at_once = await scanner._fetch_bars(symbols)
        assert list(at_once) == symbols and all(at_once.values())
        assert at_once == {s: plain.minute_bars(s, count) for s in symbols}
        assert bare.served == served + len(symbols)         # counted as the loop counts
    assert scans.bars_at_once == 5
    market.faults.add("get_balance", "timeout", count=1)
    assert await scanner._fetch_bars(symbols) == at_once    # the gather, under the rule
    assert scans.bars_at_once == 5


def test_only_the_replays_own_stack_over_this_market_is_watched() -> None:
    market, elsewhere = _market(), _market()
    scans = StepScans(market)
    _cycle(elsewhere, scans)                           # another market's broker
    scanner = ScanService(SimBroker(market), None, None,  # type: ignore[arg-type]
                          get_strategy("ma_breakout", PARAMS), FilterParams(0, 0, 50),
                          worker_id="w")               # not metered: not the replay's stack
    own = scanner._ranking
    scans.watch(SimpleNamespace(_scan=partial(scanner.scan, ["A"])))
    assert scans.unwatched == 2 and scanner._ranking == own


async def test_a_fleet_trades_the_same_with_its_scans_shared(pg_server_uri,
                                                            fleet_day) -> None:  # noqa: ANN001
    await same_trades_off_and_on(pg_server_uri, fleet_day, "scans_shared", step_scans=True)
