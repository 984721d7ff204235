"""SC-005 / EC-002 / ambiguous send: the order path against the simulated market and a real DB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from tests.test_locks import register

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.errors import LockLost
from tradefleet.domain.orders import OrderStatus, Side
from tradefleet.ports.trade_store import StrategyTag
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService

AT = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
TAG = StrategyTag("ma_breakout", "1", "abc123")


def liquid(market: SimMarket) -> str:
    u = market.universe
    return next(s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 20)


async def setup(db, sink, worker: str = "w1", seed: int = 7):
    await register(db, sink, worker)
    clock = FrozenClock(AT)
    market = SimMarket(seed, n_symbols=40, clock=clock)
    service = OrderService(PostgresOrderStore(db), SimBroker(market), sink, clock, strategy=TAG)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    symbol = liquid(market)
    lock = await locks.acquire_lock(symbol, worker)
    return service, market, lock, locks


async def test_sc005_lock_create_send_track_fills_and_opens_position(db, sink, logs):
    service, market, lock, _ = await setup(db, sink)
    order = await service.create_order(lock, side="BUY", qty=5, order_type="MARKET",
                                       limit_price=None, purpose="ENTRY")
    assert order.status is OrderStatus.NEW and order.client_order_id.startswith("tf-w1-20261124-")
    sent = await service.send_order(order)
    assert sent.status is OrderStatus.SENT and sent.broker_order_id
    done = await service.track(sent, timeout_s=2)
    assert done.status is OrderStatus.FILLED
    report = market.report(sent.broker_order_id)
    fills = await db.pool.fetch("SELECT * FROM fills WHERE order_id = $1", order.order_id)
    assert sum(f["qty"] for f in fills) == report.filled_qty == 5
    assert sum(f["amount"] for f in fills) == report.filled_amount
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE worker_id = 'w1'")
    assert pos["status"] == "OPEN" and pos["qty"] == 5
    assert pos["entry_price"] == Decimal(report.filled_amount) / 5
    assert pos["entry_at"] is not None and pos["fencing_token"] == lock.fencing_token
    assert (pos["strategy_name"], pos["strategy_version"], pos["param_version"]) == \
        (TAG.name, TAG.version, TAG.param_version)
    types = [e["event_type"] for e in await fetch_events(db.pool, worker_id="w1")]
    for t in ("OrderCreatedEvent", "OrderSentEvent", "OrderFilledEvent", "PositionEnteredEvent"):
        assert t in types
    assert logs.of("PositionEnteredEvent")
    # tracking again replays the same cumulative report: nothing is recorded twice
    again = await service.track(done, timeout_s=0)
    assert again.filled_qty == 5
    assert await db.pool.fetchval("SELECT count(*) FROM fills") == len(fills)


async def test_sell_fill_closes_position_with_exit_price(db, sink):
    service, market, lock, _ = await setup(db, sink)
    buy = await service.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                     limit_price=None, purpose="ENTRY")
    await service.track(await service.send_order(buy), timeout_s=1)
    sell = await service.create_order(lock, side="SELL", qty=3, order_type="MARKET",
                                      limit_price=None, purpose="TAKE_PROFIT")
    sell = await service.track(await service.send_order(sell), timeout_s=1)
    report = market.report(sell.broker_order_id)
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE worker_id = 'w1'")
    assert pos["status"] == "CLOSED" and pos["qty"] == 0 and pos["exit_reason"] == "TAKE_PROFIT"
    assert pos["exit_price"] == Decimal(report.filled_amount) / 3
    assert pos["sell_amount"] == report.filled_amount


async def test_ec002_rejected_order_is_recorded_with_code_and_warn(db, sink, logs):
    service, market, lock, _ = await setup(db, sink)
    market.faults.set("place_order", "reject", count=1, code="APBK0952", message="no cash")
    order = await service.create_order(lock, side="BUY", qty=5, order_type="MARKET",
                                       limit_price=None, purpose="ENTRY")
    row = await service.send_order(order)
    assert row.status is OrderStatus.REJECTED and row.reject_code == "APBK0952"
    db_row = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order.order_id)
    assert db_row["status"] == "REJECTED" and db_row["reject_code"] == "APBK0952"
    assert await db.pool.fetchval("SELECT count(*) FROM fills") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM positions") == 0
    assert [r["level"] for r in logs.of("OrderRejectedEvent")] == ["warning"]
    assert len(await fetch_events(db.pool, "OrderRejectedEvent")) == 1


async def test_ambiguous_send_is_never_resent_and_settles_to_filled(db, sink, logs):
    service, market, lock, _ = await setup(db, sink)
    market.faults.set("place_order", "drop_after_accept", count=1)
    order = await service.create_order(lock, side="BUY", qty=4, order_type="MARKET",
                                       limit_price=None, purpose="ENTRY")
    row = await service.send_order(order)
    assert row.status is OrderStatus.UNKNOWN and row.broker_order_id is None
    assert [r["level"] for r in logs.of("OrderUnresolvedEvent")] == ["error"]
    done = await service.track(row, timeout_s=2)
    at_market = market.find(lock.symbol, Side.BUY, AT.replace(hour=9))
    assert len(at_market) == 1                                  # exactly one order reached it
    assert done.status is OrderStatus.FILLED
    assert done.broker_order_id == at_market[0].broker_order_id
    fills = await db.pool.fetch("SELECT * FROM fills")
    assert sum(f["qty"] for f in fills) == 4
    assert await db.pool.fetchval("SELECT qty FROM positions WHERE worker_id = 'w1'") == 4


async def test_create_refused_without_lock_and_bad_input_writes_nothing(db, sink):
    service, _, lock, locks = await setup(db, sink)
    with pytest.raises(ValueError, match="qty"):
        await service.create_order(lock, side="BUY", qty=0, order_type="MARKET",
                                   limit_price=None, purpose="ENTRY")
    with pytest.raises(ValueError, match="limit_price"):
        await service.create_order(lock, side="BUY", qty=1, order_type="LIMIT",
                                   limit_price=None, purpose="ENTRY")
    await locks.release_lock(lock, "EXITED")
    with pytest.raises(LockLost):
        await service.create_order(lock, side="BUY", qty=1, order_type="MARKET",
                                   limit_price=None, purpose="ENTRY")
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_resting_limit_order_is_cancelled_without_fills(db, sink):
    service, market, lock, _ = await setup(db, sink)
    quote = market.quote(lock.symbol)
    price = quote.lower_limit                      # far below the market: rests unfilled
    order = await service.create_order(lock, side="BUY", qty=2, order_type="LIMIT",
                                       limit_price=price, purpose="ENTRY")
    row = await service.track(await service.send_order(order), timeout_s=0.3)
    assert row.status is OrderStatus.SENT
    done = await service.cancel_remainder(row)
    assert done.status is OrderStatus.CANCELLED and done.filled_qty == 0
    assert market.report(row.broker_order_id).cancelled_qty == 2
    assert await db.pool.fetchval("SELECT count(*) FROM fills") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM positions") == 0
