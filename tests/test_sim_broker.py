"""SimBroker: the full BrokerPort over the simulated market, and every injected fault kind."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock, SimClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    BrokerTimeout,
    BrokerUnavailable,
    OrderRejected,
)
from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.ports.broker import BrokerPort

OPEN_DAY = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


def make(seed: int = 21) -> tuple[SimBroker, SimMarket, FrozenClock]:
    clock = FrozenClock(OPEN_DAY)
    market = SimMarket(seed, n_symbols=50, clock=clock)
    return SimBroker(market), market, clock


def liquid(market: SimMarket) -> str:
    u = market.universe
    return next(s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 5)


def order(symbol: str, qty: int = 1, cid: str = "cid-1") -> OrderRequest:
    return OrderRequest(cid, symbol, Side.BUY, OrderType.MARKET, qty)


async def test_sim_broker_serves_every_port_method() -> None:
    broker, market, clock = make()
    assert isinstance(broker, BrokerPort)
    assert await broker.authenticate() is None
    symbol = liquid(market)
    quotes = await broker.get_quotes([symbol, "000000"])
    assert set(quotes) == {symbol}
    assert quotes[symbol] == market.quote(symbol)
    bars = await broker.get_minute_bars(symbol, 30)
    assert len(bars) == 30 and bars == market.minute_bars(symbol, 30)
    ack = await broker.place_order(order(symbol, 3))
    report = await broker.get_order(ack.broker_order_id, OPEN_DAY.date())
    assert report is not None and report.filled_qty == 3
    assert await broker.get_order(ack.broker_order_id, datetime(2026, 11, 23).date()) is None
    found = await broker.find_orders(OPEN_DAY.date(), symbol, Side.BUY, ack.accepted_at)
    assert [r.broker_order_id for r in found] == [ack.broker_order_id]
    balance = await broker.get_balance()
    assert balance.cash == 100_000_000 - report.filled_amount
    price = quotes[symbol].price
    assert await broker.get_buyable_qty(symbol, price) == balance.cash // price
    await broker.cancel_order(ack.broker_order_id, ack.broker_branch)   # done: no-op


async def test_timeout_fault_raises_then_clears_after_count() -> None:
    broker, market, _ = make()
    market.faults.set("get_quotes", "timeout", count=1, delay=0.05)
    t0 = time.perf_counter()
    with pytest.raises(BrokerTimeout):
        await broker.get_quotes(market.symbols()[:2])
    assert time.perf_counter() - t0 >= 0.05
    assert len(await broker.get_quotes(market.symbols()[:2])) == 2


async def test_latency_fault_delays_but_answers() -> None:
    broker, market, _ = make()
    market.faults.set("get_balance", "latency", delay=0.1)
    t0 = time.perf_counter()
    balance = await broker.get_balance()
    assert time.perf_counter() - t0 >= 0.1
    assert balance.cash == market.balance().cash


async def test_error_fault_is_broker_unavailable() -> None:
    broker, market, _ = make()
    market.faults.set("get_order", "error", count=2)
    for _ in range(2):
        with pytest.raises(BrokerUnavailable):
            await broker.get_order("0000000001", OPEN_DAY.date())
    assert await broker.get_order("0000000001", OPEN_DAY.date()) is None


async def test_reject_fault_carries_the_code_and_places_nothing() -> None:
    broker, market, _ = make()
    symbol = liquid(market)
    market.faults.set("place_order", "reject", count=1, code="APBK0919", message="not open")
    with pytest.raises(OrderRejected) as err:
        await broker.place_order(order(symbol))
    assert err.value.code == "APBK0919"
    assert market.find(symbol, Side.BUY, OPEN_DAY) == []
    assert market.balance().cash == 100_000_000


async def test_drop_after_accept_places_the_order_then_is_ambiguous() -> None:
    broker, market, clock = make()
    symbol = liquid(market)
    market.faults.set("place_order", "drop_after_accept", count=1)
    with pytest.raises(AmbiguousOrderOutcome):
        await broker.place_order(order(symbol, 2))
    clock.advance(30)
    found = await broker.find_orders(OPEN_DAY.date(), symbol, Side.BUY, OPEN_DAY)
    assert len(found) == 1 and found[0].qty == 2 and found[0].filled_qty == 2
    assert (await broker.get_balance()).cash == 100_000_000 - found[0].filled_amount


async def test_probability_fault_fires_some_of_the_time() -> None:
    broker, market, _ = make()
    market.faults.set("get_buyable_qty", "error", probability=0.5)
    symbol = liquid(market)
    outcomes = []
    for _ in range(60):
        try:
            await broker.get_buyable_qty(symbol, None)
            outcomes.append(True)
        except BrokerUnavailable:
            outcomes.append(False)
    assert 0 < sum(outcomes) < 60
    market.faults.clear()
    assert await broker.get_buyable_qty(symbol, None) > 0


def test_fault_plan_names_bad_fields() -> None:
    _, market, _ = make()
    with pytest.raises(ValueError, match="operation"):
        market.faults.set("get_quote", "timeout")
    with pytest.raises(ValueError, match="kind"):
        market.faults.set("get_quotes", "explode")
    with pytest.raises(ValueError, match="probability"):
        market.faults.set("get_quotes", "error", probability=1.5)


async def test_with_a_fast_sim_clock_the_market_moves() -> None:
    clock = SimClock(OPEN_DAY, speed=3_000.0)
    broker = SimBroker(SimMarket(4, n_symbols=30, clock=clock))
    first = await broker.get_quotes(broker.market.symbols())
    await clock.sleep(600)                  # ten sim minutes, 0.2 real seconds
    later = await broker.get_quotes(broker.market.symbols())
    assert max(q.volume for q in later.values()) > max(q.volume for q in first.values())
    assert all(later[s].at > first[s].at for s in first)


async def test_racing_workers_share_one_account_without_overspending() -> None:
    """Many tasks (workers sharing one account) race to buy; cash covers only some."""
    clock = FrozenClock(OPEN_DAY)
    probe = SimMarket(21, n_symbols=50, clock=clock)
    symbol = liquid(probe)
    upper = probe.quote(symbol).upper_limit           # market buys reserve at the upper limit
    market = SimMarket(21, n_symbols=50, clock=clock, initial_cash=upper * 3 + upper // 2)
    broker = SimBroker(market)
    market.faults.set("place_order", "latency", delay=0.01)

    async def one(k: int) -> str:
        try:
            await broker.place_order(order(symbol, 1, cid=f"w{k}"))
            return "ok"
        except OrderRejected as exc:
            return exc.code

    results = await asyncio.gather(*(one(k) for k in range(10)))
    filled = market.find(symbol, Side.BUY, OPEN_DAY)
    assert results.count("ok") == len(filled)
    assert set(results) <= {"ok", "APBK0952"}
    spent = sum(r.filled_amount for r in filled)
    assert market.balance().cash == upper * 3 + upper // 2 - spent >= 0
    assert "APBK0952" in results


def test_threads_submitting_at_once_keep_the_account_consistent() -> None:
    """The HTTP simulator may call the engine from several threads."""
    _, market, _ = make()
    symbol = liquid(market)

    def one(k: int) -> int:
        try:
            return market.report(market.submit(order(symbol, 1, cid=f"t{k}")).broker_order_id
                                 ).filled_amount
        except OrderRejected:
            return 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        amounts = list(pool.map(one, range(40)))
    ids = {r.broker_order_id for r in market.find(symbol, Side.BUY, OPEN_DAY)}
    assert len(ids) == 40
    assert market.balance().cash == 100_000_000 - sum(amounts)
    (holding,) = market.balance().holdings
    assert holding.qty == 40
