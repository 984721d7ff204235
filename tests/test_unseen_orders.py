"""An order with no broker id is never hidden from the unseen judgement for ever: tracking it
(the sender, the liquidation) does not keep the follower away, tracking it long enough expires
it, a row written and never sent is followed after a short window, and the grace is counted
from when the send ended, not from when its outcome could be written."""

from __future__ import annotations

import asyncio
import time

from tests.test_reconcile import world

from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.summary_store import PostgresSummaryStore
from tradefleet.domain.orders import OrderStatus
from tradefleet.services.liquidation_service import LiquidationService
from tradefleet.services.order_follower import OrderFollower
from tradefleet.services.order_service import OrderService


async def _bought(orders: OrderService, lock, qty: int):
    row = await orders.send_order(await orders.create_order(
        lock, side="BUY", qty=qty, order_type="MARKET", limit_price=None, purpose="ENTRY"))
    row = await orders.track(row, timeout_s=2)
    assert row.status is OrderStatus.FILLED
    return row


async def _lost_sell(db, market, orders: OrderService, lock, qty: int, *, sent_s_ago: float):
    """A sell whose send timed out before it reached the exchange: UNKNOWN, no broker id,
    sent ``sent_s_ago`` seconds ago by the database clock."""
    market.faults.set("place_order", "timeout", count=1)
    row = await orders.send_order(await orders.create_order(
        lock, side="SELL", qty=qty, order_type="MARKET", limit_price=None,
        purpose="LIQUIDATION"))
    assert row.status is OrderStatus.UNKNOWN and row.broker_order_id is None
    await db.pool.execute("UPDATE orders SET sent_at = now() - make_interval(secs => $2) "
                          "WHERE order_id = $1", row.order_id, float(sent_s_ago))
    return row


async def test_liquidation_expires_an_unknown_sell_the_broker_never_saw_and_sells(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock)          # the default 20 s grace
    lock = await locks.acquire_lock(symbols[0], "w1")
    await _bought(orders, lock, 5)
    lost = await _lost_sell(db, market, orders, lock, 5, sent_s_ago=60)
    liquidation = LiquidationService(orders, store, PostgresSummaryStore(db), broker, sink,
                                     clock, retry_wait_s=1.0, track_timeout_s=1.0)
    unsold = await liquidation.liquidate("w1", [lock], liquidation_at=clock.now())
    assert unsold == []
    assert (await store.get_order(lost.order_id)).status is OrderStatus.EXPIRED
    assert await db.pool.fetchval("SELECT qty FROM positions") == 0
    held = market.holdings().of(symbols[0])               # the exchange's own book
    assert held is None or held.qty == 0


async def test_the_follower_sees_an_unknown_order_while_another_call_tracks_it(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock, unseen_grace_s=3600)  # track never judges
    follower = OrderFollower(orders, store, sink, unseen_grace_s=0, unseen_lookups=1)
    lock = await locks.acquire_lock(symbols[0], "w1")
    await _bought(orders, lock, 4)
    lost = await _lost_sell(db, market, orders, lock, 4, sent_s_ago=1)
    tracking = asyncio.create_task(orders.track(lost, timeout_s=3))
    await asyncio.sleep(0.5)
    assert not tracking.done()
    await follower.follow("w1")
    assert (await store.get_order(lost.order_id)).status is OrderStatus.EXPIRED
    assert (await tracking).status is OrderStatus.EXPIRED      # and the tracker sees it end


async def test_a_row_written_and_never_sent_is_followed_after_the_send_window(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock, send_window_s=0.5)
    follower = OrderFollower(orders, store, sink, unseen_grace_s=0, unseen_lookups=1)
    lock = await locks.acquire_lock(symbols[0], "w1")
    row = await orders.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                    limit_price=None, purpose="ENTRY")
    await follower.follow("w1")                 # we may still send it: left alone
    assert (await store.get_order(row.order_id)).status is OrderStatus.NEW
    await asyncio.sleep(0.6)                    # its caller failed before the send
    await follower.follow("w1")
    assert (await store.get_order(row.order_id)).status is OrderStatus.EXPIRED
    assert market.find(symbols[0], row.side, clock.now().replace(hour=9)) == []


async def test_unknown_grace_counts_from_the_end_of_the_send_not_the_late_write(db, sink):
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock)
    lock = await locks.acquire_lock(symbols[0], "w1")
    row = await orders.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                    limit_price=None, purpose="ENTRY")
    # the answer was lost 30 s ago; the database (or this process) was away since
    await store.mark_unknown(row.order_id, "ReadTimeout: lost",
                             answered_at=time.monotonic() - 30)
    age = await db.pool.fetchval(
        "SELECT EXTRACT(EPOCH FROM now() - sent_at)::float8 FROM orders WHERE order_id = $1",
        row.order_id)
    assert 29 <= age <= 35
    assert await store.expire_unseen(row.order_id, "t", min_age_s=25) is not None
