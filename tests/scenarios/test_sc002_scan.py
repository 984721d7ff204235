"""SC-002: the worker's scan poll in SCAN collects the universe's quotes, drops what the
pre-filters refuse, computes the strategy's indicators on short candles, stores every
candidate that passed (signal = True for the buyable ones) and announces the scan.

검증: log (poll start, filter results, candidate list), candidates rows with signal = True,
CandidateScannedEvent."""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.evidence import events, one_line
from tests.scenarios.harness import DAY_START, POLL_S, build

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.strategies import get_strategy

PARAMS = {"short": 2, "long": 5, "breakout_window": 5}


async def test_scan_poll_filters_evaluates_stores_and_announces(db, logs):
    clock = FrozenClock(DAY_START)
    market = SimMarket(7, n_symbols=40, clock=clock)
    universe = market.symbols()
    first_poll = DAY_START + timedelta(seconds=POLL_S)
    clock.set(first_poll)
    volumes = sorted(q.volume for q in market.quotes(universe).values())
    min_volume = volumes[len(volumes) // 4]          # about a quarter is too thin
    clock.set(DAY_START)
    rig = await build(db, worker_id="w-scan", market=market, clock=clock,
                      TRADEFLEET_FILTERS__MIN_VOLUME=str(min_volume))

    await rig.step()                                 # the worker's poll at first_poll

    assert clock.now() == first_poll
    [scanned] = await events(db, "CandidateScannedEvent", worker_id="w-scan")
    scan_id = scanned["scan_id"]
    quotes = market.quotes(universe)                 # the tape at the scan's time
    thin = {s for s, q in quotes.items() if q.volume < min_volume}
    assert thin and scanned["filter_rejections"]["min_volume"] == len(thin)
    assert scanned["universe_size"] == len(universe)

    rows = await db.pool.fetch(
        "SELECT * FROM candidates WHERE scan_id = $1 ORDER BY symbol", scan_id)
    assert len(rows) == scanned["passed_filters"] > 0
    assert not {r["symbol"] for r in rows} & thin
    strategy = get_strategy("ma_breakout", PARAMS)
    assert all(r["passed_filters"] and r["trading_day"] == DAY_START.date()
               and r["worker_id"] == "w-scan" for r in rows)
    assert {(r["strategy_name"], r["param_version"]) for r in rows} == \
        {("ma_breakout", strategy.param_version)}
    signalled = [r for r in rows if r["signal"]]
    assert signalled and sorted(r["symbol"] for r in signalled) == sorted(scanned["candidates"])
    assert scanned["signals"] == len(signalled)
    for r in signalled:                              # the stored indicators justify the signal
        bars = [b for b in market.minute_bars(r["symbol"], 6)
                if b.start + timedelta(minutes=1) <= quotes[r["symbol"]].at]
        closes = [b.close for b in bars[-5:]]
        assert r["price"] == quotes[r["symbol"]].price
        assert r["price"] > max(closes) == r["indicators"]["prior_high"]
        assert r["indicators"]["sma_short"] > r["indicators"]["sma_long"]

    started = one_line(logs, event="scan poll started", worker_id="w-scan")
    assert started["level"] == "info" and started["scan_id"] == scan_id
    assert started["universe_size"] == len(universe)
    filtered = one_line(logs, event="scan filter results", worker_id="w-scan")
    assert filtered["level"] == "info" and filtered["passed_filters"] == len(rows)
    assert filtered["filter_rejections"]["min_volume"] == len(thin)
    announced = one_line(logs, event_type="CandidateScannedEvent", worker_id="w-scan")
    assert announced["level"] == "info"
    assert announced["candidates"] == scanned["candidates"]     # the candidate list, ranked
