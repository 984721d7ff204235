"""SC-002: one poll of the candidate search over a simulated universe."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.strategies import get_strategy
from tradefleet.services.scan_service import ScanService
from tradefleet.services.worker_registry import WorkerRegistry

START = datetime(2026, 11, 24, 9, 40, 10, tzinfo=SEOUL)
PARAMS = {"short": 2, "long": 5, "breakout_window": 5}


async def test_scan_filters_evaluates_stores_and_announces(db, sink, logs):
    await WorkerRegistry(PostgresWorkerStore(db), sink).register(
        "w-scan", pid=1, host="t", mode="sim", lock_ttl_seconds=30)
    clock = FrozenClock(START)
    market = SimMarket(11, n_symbols=80, clock=clock)
    broker = SimBroker(market)
    universe = market.symbols()
    strategy = get_strategy("ma_breakout", PARAMS)
    volumes = sorted(q.volume for q in market.quotes(universe).values())
    min_volume = volumes[len(volumes) // 4]          # about a quarter is too thin
    filters = FilterParams(min_volume=min_volume, min_traded_value=0, max_spread_ticks=50)
    scanner = ScanService(broker, PostgresCandidateStore(db), sink, strategy, filters,
                          worker_id="w-scan")

    result = None
    for _ in range(150):                # walk the day until the tape gives a breakout
        result = await scanner.scan(universe, START.date())
        if result.ranked:
            break
        clock.advance(23)               # land mid-minute too
    assert result is not None and result.ranked, "no breakout signal all morning"

    quotes = market.quotes(universe)
    thin = {s for s, q in quotes.items() if q.volume < min_volume}
    assert thin and result.filter_rejections["min_volume"] == len(thin)

    rows = await db.pool.fetch(
        "SELECT * FROM candidates WHERE scan_id = $1 ORDER BY symbol", result.scan_id)
    assert len(rows) == result.passed_filters > 0
    stored = {r["symbol"] for r in rows}
    assert not stored & thin
    assert all(r["passed_filters"] and r["trading_day"] == START.date() for r in rows)
    assert {r["strategy_name"] for r in rows} == {"ma_breakout"}
    assert {r["param_version"] for r in rows} == {strategy.param_version}

    signalled = [r for r in rows if r["signal"]]
    assert sorted(r["symbol"] for r in signalled) == sorted(c.symbol for c in result.ranked)
    for r in signalled:                 # the stored indicators justify the signal
        bars = [b for b in market.minute_bars(r["symbol"], 6)
                if b.start + timedelta(minutes=1) <= quotes[r["symbol"]].at]
        closes = [b.close for b in bars[-5:]]
        assert r["price"] > max(closes) == r["indicators"]["prior_high"]
        assert r["indicators"]["sma_short"] > r["indicators"]["sma_long"]
    scores = [c.score for c in result.ranked]
    assert scores == sorted(scores, reverse=True)

    events = await db.pool.fetch(
        "SELECT payload FROM events WHERE event_type = 'CandidateScannedEvent' "
        "ORDER BY event_id DESC LIMIT 1")
    payload = events[0]["payload"]
    assert payload["candidates"] == [c.symbol for c in result.ranked]
    assert payload["passed_filters"] == len(rows)
    assert payload["universe_size"] == len(universe)
    assert payload["filter_rejections"]["min_volume"] == len(thin)

    said = {r.get("event"): r["level"] for r in logs.records}
    assert said["scan poll started"] == "info"
    assert said["scan filter results"] == "info"
    assert said["CandidateScannedEvent"] == "info"
