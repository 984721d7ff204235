"""Why the demo trades every time: its market (the demo's seed and universe, the default
strategy and filters a demo worker runs) signals breakouts through most of the session.
A worker that sees the whole session therefore finds candidates on hundreds of scans; the
demo holds its clock until every worker is ready, so each one does see the whole session."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.strategies import get_strategy
from tradefleet.local_fleet.demo import DemoOptions
from tradefleet.services.scan_service import ScanService
from tradefleet.settings import load_settings

STEP = timedelta(seconds=10)          # the simulated market's own granularity


async def test_the_demo_market_signals_through_most_of_the_session():
    opts = DemoOptions()
    settings = load_settings(None, {"TRADEFLEET_WORKER_ID": "w1",
                                    "TRADEFLEET_RISK__CAPITAL_LIMIT": str(opts.capital_limit),
                                    "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000"})
    day = datetime(2026, 11, 24, tzinfo=SEOUL).date()
    clock = FrozenClock(datetime.combine(day, time(9, 0), tzinfo=SEOUL))
    market = SimMarket(opts.seed, n_symbols=opts.symbols, clock=clock)
    broker = SimBroker(market)
    strategy = get_strategy(settings.strategy.name, dict(settings.strategy.params))
    f = settings.filters
    scanner = ScanService(broker, None, None, strategy,  # type: ignore[arg-type]
                          FilterParams(f.min_volume, f.min_traded_value, f.max_spread_ticks),
                          worker_id="w1")
    at = datetime.combine(day, time(9, 30), tzinfo=SEOUL)
    liquidation = datetime.combine(day, time(15, 15), tzinfo=SEOUL)
    steps, signalled, symbols = 0, 0, set()
    while at < liquidation:
        clock.set(at)
        quotes = [q for q in (await broker.get_quotes(market.symbols())).values() if q.price]
        passed_idx, _ = scanner.prefilter(quotes)
        passed = [quotes[i] for i in passed_idx]
        bars = await scanner._fetch_bars([q.symbol for q in passed])
        signal, *_ = scanner.evaluate(passed, bars)
        steps += 1
        if signal.any():
            signalled += 1
            symbols.update(q.symbol for q, s in zip(passed, signal, strict=True) if s)
        at += STEP
    # measured: 1,538 of the 2,070 steps from 09:30 to 15:15 signal, on 46 symbols (none
    # before 09:20: the strategy needs 20 closed bars)
    assert signalled > steps // 2, (signalled, steps)
    assert len(symbols) >= 10


async def test_bars_fetched_minutes_after_the_quotes_still_suffice():
    """In compressed time the scan's latency is simulated minutes: bars fetched after the
    quotes include minutes that postdate the quote and are dropped as not closed. Without
    spare bars every symbol was "insufficient_bars" and a busy machine's demo traded
    nothing; with them a gap of several minutes still leaves enough closed bars."""
    opts = DemoOptions()
    day = datetime(2026, 11, 24, tzinfo=SEOUL).date()
    clock = FrozenClock(datetime.combine(day, time(11, 0, 25), tzinfo=SEOUL))
    market = SimMarket(opts.seed, n_symbols=opts.symbols, clock=clock)
    broker = SimBroker(market)
    strategy = get_strategy("ma_breakout", {})
    scanner = ScanService(broker, None, None, strategy,  # type: ignore[arg-type]
                          FilterParams(0, 0, 50), worker_id="w1")
    quotes = list((await broker.get_quotes(market.symbols())).values())
    clock.advance(8 * 60)                      # the bars arrive eight simulated minutes later
    bars = await scanner._fetch_bars([q.symbol for q in quotes])
    _, _, _, usable = scanner.evaluate(quotes, bars)
    assert usable.all()
