"""The replay's bare market reads (``replay.bare_reads``): a replayed worker's quotes and
bars come straight from the market only while its fault plan holds no rule (a rule is
acted out as before), only on the replay's own broker stack over that market, and a fleet
day trades the same with and without them."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from types import SimpleNamespace

import pytest
from tests.scenarios.harness import worker_env
from tests.test_replay_runner import TIGHT, _fresh_db

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.telemetry.metered_broker import MeteredBroker
from tradefleet.domain.errors import BrokerTimeout
from tradefleet.replay.bare_reads import BareReads
from tradefleet.replay.runner import replay_fleet_day
from tradefleet.settings import load_settings

DAY = date(2026, 11, 24)


def _market() -> SimMarket:
    clock = FrozenClock(datetime.combine(DAY, time(10, 0), tzinfo=SEOUL))
    return SimMarket(5, n_symbols=5, clock=clock, day=DAY)


def _worker(market: SimMarket) -> tuple[SimpleNamespace, list[tuple[str, str]]]:
    observed: list[tuple[str, str]] = []
    broker = MeteredBroker(SimBroker(market), lambda op, outcome, _s: observed.append(
        (op, outcome)))
    return SimpleNamespace(_broker=broker), observed


async def test_reads_go_to_the_market_while_no_fault_rule_exists() -> None:
    market = _market()
    symbol = sorted(market.symbols())[0]
    bare = BareReads(market)
    worker, observed = _worker(market)
    bare.watch(worker)
    bars = await worker._broker.get_minute_bars(symbol, 5)
    quotes = await worker._broker.get_quotes([symbol])
    assert bars == market.minute_bars(symbol, 5) and len(bars) == 5
    assert quotes == market.quotes([symbol])
    assert bare.served == 2 and observed == []           # past the metering
    assert await worker._broker.get_buyable_qty(symbol, None) >= 0     # others metered
    assert observed == [("get_buyable_qty", "ok")]


@pytest.mark.parametrize("operation", ["get_minute_bars", "get_quotes"])
async def test_a_fault_rule_is_acted_out_as_before(operation: str) -> None:
    market = _market()
    symbol = sorted(market.symbols())[0]
    bare = BareReads(market)
    worker, observed = _worker(market)
    bare.watch(worker)
    market.faults.add(operation, "timeout", count=1)
    read = (lambda: worker._broker.get_minute_bars(symbol, 5)) \
        if operation == "get_minute_bars" else (lambda: worker._broker.get_quotes([symbol]))
    with pytest.raises(BrokerTimeout):
        await read()
    assert observed == [(operation, "BrokerTimeout")] and bare.served == 0
    await read()            # the rule is spent but still in the plan: the usual path
    assert observed[-1] == (operation, "ok") and bare.served == 0


async def test_another_broker_stack_or_market_is_left_alone() -> None:
    market, other = _market(), _market()
    bare = BareReads(market)
    elsewhere, _ = _worker(other)               # a SimBroker of another market
    bare.watch(elsewhere)
    plain = SimpleNamespace(_broker=SimBroker(market))      # not metered: not the stack
    bare.watch(plain)
    assert bare.unwatched == 2
    assert "get_minute_bars" not in vars(elsewhere._broker)
    await elsewhere._broker.get_minute_bars(sorted(other.symbols())[0], 3)
    assert bare.served == 0


async def test_a_fleet_trades_the_same_with_bare_reads(pg_server_uri, fleet_day) -> None:  # noqa: ANN001
    fleet = [load_settings(None, worker_env(f"bt-{k}", exits=TIGHT,
                                            TRADEFLEET_STRATEGY__PARAMS=json.dumps(
                                                {"short": 2, "long": 5,
                                                 "breakout_window": 5})))
             for k in (1, 2, 3)]
    runs = []
    for bare in (False, True):
        db = await _fresh_db(pg_server_uri)
        try:
            runs.append(await replay_fleet_day(fleet_day, db, fleet, start=time(14, 45),
                                               bare_reads=bare))
        finally:
            await db.close()
    usual, bare_run = runs
    assert len({t["worker_id"] for t in usual.trades}) >= 2, usual.trades  # a fleet traded
    assert bare_run.trades == usual.trades
    assert usual.bare_reads == 0 < bare_run.bare_reads
