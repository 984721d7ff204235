"""Crash recovery: non-terminal orders are settled against the broker at start-up, and
nothing is ever sent twice."""

from __future__ import annotations

import asyncio
from datetime import datetime

from tests.test_locks import register

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_follower import OrderFollower
from tradefleet.services.order_service import OrderService

AT = datetime(2026, 11, 24, 11, 0, tzinfo=SEOUL)


async def world(db, sink):
    await register(db, sink, "w1")
    clock = FrozenClock(AT)
    market = SimMarket(3, n_symbols=40, clock=clock)
    broker = SimBroker(market)
    u = market.universe
    symbols = [s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 10]
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=600)
    return clock, market, broker, symbols, locks


def fresh_process(db, sink, broker, clock):
    """What a restarted worker builds: no memory of the previous process's orders."""
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock)
    return orders, OrderFollower(orders, store, sink, unseen_grace_s=0, unseen_lookups=1)


async def test_new_row_that_reached_the_market_is_adopted_not_resent(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    before, _ = fresh_process(db, sink, broker, clock)
    lock = await locks.acquire_lock(symbols[0], "w1")
    row = await before.create_order(lock, side="BUY", qty=7, order_type="MARKET",
                                    limit_price=None, purpose="ENTRY")
    # the send happened, then the process died before recording the acknowledgement
    ack = await broker.place_order(OrderRequest(row.client_order_id, row.symbol, Side.BUY,
                                                OrderType.MARKET, 7))
    clock.advance(20)
    _, reconcile = fresh_process(db, sink, broker, clock)
    result = await reconcile.follow("w1")
    assert market.find(symbols[0], Side.BUY, AT.replace(hour=9)) == \
        [market.report(ack.broker_order_id)]                    # still exactly one order
    order = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", row.order_id)
    assert order["status"] == "FILLED" and order["broker_order_id"] == ack.broker_order_id
    assert order["filled_amount"] == market.report(ack.broker_order_id).filled_amount
    assert [p.qty for p in result.positions] == [7] and result.open_orders == []
    again = await reconcile.follow("w1")                      # idempotent
    assert again.settled == []
    assert await db.pool.fetchval("SELECT sum(qty) FROM fills") == 7


async def test_new_row_never_sent_expires_and_unknown_row_settles(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    before, _ = fresh_process(db, sink, broker, clock)
    lock_a = await locks.acquire_lock(symbols[0], "w1")
    lock_b = await locks.acquire_lock(symbols[1], "w1")
    never = await before.create_order(lock_a, side="BUY", qty=3, order_type="MARKET",
                                      limit_price=None, purpose="ENTRY")
    market.faults.set("place_order", "drop_after_accept", count=1)
    ambiguous = await before.send_order(await before.create_order(
        lock_b, side="BUY", qty=4, order_type="MARKET", limit_price=None, purpose="ENTRY"))
    assert ambiguous.status == "UNKNOWN"
    clock.advance(20)
    _, reconcile = fresh_process(db, sink, broker, clock)
    result = await reconcile.follow("w1")
    rows = {r["order_id"]: r for r in await db.pool.fetch("SELECT * FROM orders")}
    assert rows[never.order_id]["status"] == "EXPIRED"
    assert "never reached" in rows[never.order_id]["reject_message"]
    assert rows[ambiguous.order_id]["status"] == "FILLED"
    assert market.find(symbols[0], Side.BUY, AT.replace(hour=9)) == []    # nothing sent
    assert len(market.find(symbols[1], Side.BUY, AT.replace(hour=9))) == 1
    assert {p.symbol: p.qty for p in result.positions} == {symbols[1]: 4}
    assert len(await fetch_events(db.pool, "PositionEnteredEvent")) == 1


async def test_racing_trackers_record_each_fill_once(db, sink):
    """Two processes' services settling the same ambiguous order at once (a restarted worker
    and its not-yet-dead predecessor): fills, position and order counts stay single."""
    clock, market, broker, symbols, locks = await world(db, sink)
    first, _ = fresh_process(db, sink, broker, clock)
    lock = await locks.acquire_lock(symbols[0], "w1")
    market.faults.set("place_order", "drop_after_accept", count=1)
    row = await first.send_order(await first.create_order(
        lock, side="BUY", qty=6, order_type="MARKET", limit_price=None, purpose="ENTRY"))
    second, reconcile = fresh_process(db, sink, broker, clock)
    results = await asyncio.gather(first.track(row, timeout_s=1), second.track(row, timeout_s=1),
                                   reconcile.follow("w1"))
    assert {r.status for r in results[:2]} == {OrderStatus.FILLED}
    assert await db.pool.fetchval("SELECT count(*) FROM fills") == 1
    assert await db.pool.fetchval("SELECT sum(qty) FROM fills") == 6
    assert await db.pool.fetchval("SELECT qty FROM positions") == 6
    assert len(await fetch_events(db.pool, "OrderFilledEvent")) == 1
    assert len(market.find(symbols[0], Side.BUY, AT.replace(hour=9))) == 1


async def test_unseen_order_is_not_expired_within_the_grace_window(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    before, _ = fresh_process(db, sink, broker, clock)
    lock = await locks.acquire_lock(symbols[0], "w1")
    row = await before.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                    limit_price=None, purpose="ENTRY")
    store = PostgresOrderStore(db)
    patient = OrderFollower(OrderService(store, broker, sink, clock), store, sink,
                               unseen_grace_s=3600)
    result = await patient.follow("w1")
    assert [o.order_id for o in result.open_orders] == [row.order_id]
    assert await db.pool.fetchval("SELECT status FROM orders") == "NEW"


async def test_an_order_a_lagging_list_does_not_show_is_expired_only_after_several_lookups(
        db, sink):
    """UNKNOWN is not EXPIRED because the broker's list lagged once: the follower needs its
    lookups (and the grace period) before it judges an order never sent."""
    clock, market, broker, symbols, locks = await world(db, sink)
    before, _ = fresh_process(db, sink, broker, clock)
    lock = await locks.acquire_lock(symbols[0], "w1")
    row = await before.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                    limit_price=None, purpose="ENTRY")
    store = PostgresOrderStore(db)
    follower = OrderFollower(OrderService(store, broker, sink, clock), store, sink,
                             unseen_grace_s=0, unseen_lookups=3)
    for _ in range(2):
        await follower.follow("w1")
        assert (await store.get_order(row.order_id)).status is OrderStatus.NEW
    await follower.follow("w1")
    assert (await store.get_order(row.order_id)).status is OrderStatus.EXPIRED
    assert len(await fetch_events(db.pool, "OrderExpiredEvent")) == 1
