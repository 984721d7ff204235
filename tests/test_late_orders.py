"""Orders that come back after being given up (issue 16, defect 3) and where their fills land:
an order judged never sent (EXPIRED) that a paused sender then really sends with its answer
lost, or that the broker's list shows only after the grace; a SELL fill of a sender whose
position an adopter took over; a local clock ahead of the broker's. The exchange's own books
(tests/books.py) judge each."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta

import aiohttp
from tests.books import read_books
from tests.exchange_thread import ExchangeThread
from tests.order_path_child import kis_config
from tests.test_locks import register
from tests.test_reconcile import world

from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.orphan_store import PostgresOrphanStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.lease import Lease
from tradefleet.domain.orders import OrderStatus
from tradefleet.services.account_reconciler import AccountReconciler
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_follower import NEVER_SENT, OrderFollower
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.guarded_broker import GuardedBroker


class _PausedSend:
    """The sender's broker below its send guard: a send waits here (the process paused
    after its last check) until ``resume``. Everything else goes straight through."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self._inner = inner
        self.reached = asyncio.Event()
        self._go = asyncio.Event()

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    def resume(self) -> None:
        self._go.set()

    async def place_order(self, request):  # noqa: ANN001, ANN201
        self.reached.set()
        await self._go.wait()
        return await self._inner.place_order(request)


async def _order(orders: OrderService, lock, side: str, qty: int, purpose: str):  # noqa: ANN001
    return await orders.create_order(lock, side=side, qty=qty, order_type="MARKET",
                                     limit_price=None, purpose=purpose)


async def test_an_expired_sell_sent_late_with_its_answer_lost_is_recorded_once(pg_dsn):
    """A worker passes its send guard and pauses before its SELL reaches the broker; it is
    reclaimed and another worker's follower expires the NEW row. It resumes: the SELL
    executes, the answer is lost and the broker's list lags. The execution must be recorded
    once, the position closed, and nothing left for the orphan path to sell again."""
    with ExchangeThread(n_symbols=20) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        db = await Database.connect(pg_dsn, min_size=1, max_size=6)
        try:
            async with aiohttp.ClientSession() as http:
                sink = PostgresEventSink(db)
                registry = WorkerRegistry(PostgresWorkerStore(db), sink)
                epoch = await registry.register("w-late", pid=os.getpid(), host="test",
                                                mode="sim", lock_ttl_seconds=30)
                lease = Lease(30)
                lease.grant(epoch, time.monotonic())
                locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
                lock = await locks.acquire_lock(symbol, "w-late", epoch=epoch)
                kis = in_process_kis_broker(kis_config(ex.base_url), http, clock=ex.clock)
                await kis.authenticate()
                store = PostgresOrderStore(db)
                paused = _PausedSend(kis)
                late = OrderService(store, GuardedBroker(paused, lease, store.fence_holds),
                                    sink, ex.clock)
                paused.resume()
                bought = await late.track(await late.send_order(
                    await _order(late, lock, "BUY", 5, "ENTRY")), timeout_s=3)
                assert bought.filled_qty == 5
                paused = _PausedSend(kis)
                late = OrderService(store, GuardedBroker(paused, lease, store.fence_holds),
                                    sink, ex.clock)
                sell = await _order(late, lock, "SELL", 5, "LIQUIDATION")
                sending = asyncio.create_task(late.send_order(sell))
                await asyncio.wait_for(paused.reached.wait(), 10)   # past every check

                await db.pool.execute("UPDATE workers SET heartbeat_at = now() - "
                                      "interval '1 hour' WHERE worker_id = 'w-late'")
                assert await locks.reclaim_expired() == ["w-late"]
                live_epoch = await registry.register("w-live", pid=os.getpid(), host="test",
                                                     mode="sim", lock_ttl_seconds=30)
                live = OrderService(store, kis, sink, ex.clock)
                follower = OrderFollower(live, store, sink, unseen_grace_s=0,
                                         unseen_lookups=1, late_look_s=600)
                await follower.follow("w-live")
                assert (await store.get_order(sell.order_id)).status is OrderStatus.EXPIRED

                async with http.post(ex.base_url + "/_admin/faults", json={
                        "operation": "place_order", "kind": "drop_after_accept",
                        "count": 1}) as resp:
                    assert resp.status == 200
                async with http.post(ex.base_url + "/_admin/faults", json={
                        "operation": "find_orders", "kind": "error", "count": 3}) as resp:
                    assert resp.status == 200
                paused.resume()
                sent = await sending
                await late.track(sent, timeout_s=0.5)     # its first lookups miss
                for _ in range(10):
                    await follower.follow("w-live")
                    if (await store.get_order(sell.order_id)).status.is_terminal:
                        break
                    await asyncio.sleep(0.2)

                row = await store.get_order(sell.order_id)
                assert (row.status, row.filled_qty) == (OrderStatus.FILLED, 5)
                assert await db.pool.fetchval(
                    "SELECT sum(qty) FROM fills WHERE order_id = $1", sell.order_id) == 5
                pos = await db.pool.fetchrow("SELECT status, qty FROM positions")
                assert (pos["status"], pos["qty"]) == ("CLOSED", 0)    # no phantom
                reconciler = AccountReconciler(PostgresOrphanStore(db), locks, kis, sink,
                                               stray_check_s=0)
                for _ in range(2):                         # nothing left to adopt and resell
                    assert await reconciler.adopt_one("w-live", live_epoch,
                                                      ex.market.day) is None
            books = await read_books(db, ex.market)
            assert books.clean, books
        finally:
            await db.close()


async def test_an_expired_sell_the_list_shows_after_the_grace_is_recorded(db, sink):
    """No pause at all: a SELL's answer is lost and the broker's list lags past the grace,
    so the follower expires it. The list then shows it: it is recorded, once."""
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock)
    follower = OrderFollower(orders, store, sink, unseen_grace_s=0, unseen_lookups=1,
                             late_look_s=0)
    lock = await locks.acquire_lock(symbols[0], "w1")
    bought = await orders.track(await orders.send_order(
        await _order(orders, lock, "BUY", 4, "ENTRY")), timeout_s=2)
    assert bought.filled_qty == 4
    market.faults.set("place_order", "drop_after_accept", count=1)
    market.faults.set("find_orders", "timeout", count=10_000)        # the list lags
    sent = await orders.send_order(await _order(orders, lock, "SELL", 4, "LIQUIDATION"))
    assert sent.status is OrderStatus.UNKNOWN
    await follower.follow("w1")
    # past the grace, never listed: judged never sent (as the follower does on empty lists)
    assert await store.expire_unseen(sent.order_id, NEVER_SENT, min_age_s=0) is not None
    market.faults.clear()
    for _ in range(3):
        await follower.follow("w1")
    row = await store.get_order(sent.order_id)
    assert (row.status, row.filled_qty) == (OrderStatus.FILLED, 4)
    assert await db.pool.fetchval("SELECT status FROM positions") == "CLOSED"
    assert await db.pool.fetchval("SELECT count(*) FROM fills WHERE order_id = $1",
                                  sent.order_id) == 1
    books = await read_books(db, market)
    assert books.clean, books


async def test_a_late_sell_fill_lands_in_the_senders_position_under_its_adopter(db, sink):
    """Two positions on one symbol (the fence's remaining window): the other worker's, older,
    and the sender's, adopted by a third worker after the sender died. The sender's late SELL
    lands in its own position (now the adopter's), never in the other worker's."""
    clock, market, broker, symbols, locks = await world(db, sink)
    epochs = await register(db, sink, "w2", "w3")
    symbol = symbols[0]
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock)    # past the guard: the bare broker
    lock1 = await locks.acquire_lock(symbol, "w1")
    buy1 = await _order(orders, lock1, "BUY", 5, "ENTRY")
    await db.pool.execute("DELETE FROM stock_locks WHERE symbol = $1", symbol)
    lock2 = await locks.acquire_lock(symbol, "w2")
    other = await orders.track(await orders.send_order(
        await _order(orders, lock2, "BUY", 3, "ENTRY")), timeout_s=2)
    assert other.filled_qty == 3                           # w2's position, the older one
    await locks.release_lock(lock2, "TEST")
    assert (await orders.track(await orders.send_order(buy1), timeout_s=2)).filled_qty == 5
    lock1 = await locks.acquire_lock(symbol, "w1")
    sell = await _order(orders, lock1, "SELL", 5, "LIQUIDATION")
    # w1 dies with its SELL row written; its row is expired, its position adopted by w3
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '1 hour' "
                          "WHERE worker_id = 'w1'")
    await locks.reclaim_expired()
    assert await store.expire_unseen(sell.order_id, "test", min_age_s=0) is not None
    reconciler = AccountReconciler(PostgresOrphanStore(db), locks, broker, sink)
    adopted = await reconciler.adopt_one("w3", epochs["w3"], market.day)
    assert adopted is not None and adopted.position.qty == 5
    # the paused sender's SELL (its row still NEW in its memory) reaches the exchange
    done = await orders.track(await orders.send_order(sell), timeout_s=2)
    assert done.filled_qty == 5
    rows = {r["worker_id"]: r for r in await db.pool.fetch("SELECT * FROM positions")}
    assert (rows["w2"]["status"], rows["w2"]["qty"]) == ("OPEN", 3)      # untouched
    assert (rows["w3"]["status"], rows["w3"]["adopted_from"]) == ("CLOSED", "w1")
    books = await read_books(db, market)
    assert books.holdings == {symbol: 3} and not books.unrecorded and not books.mismatched


class _AheadClock:
    """This process's clock, ``ahead`` in front of the broker's (a pod's clock drifted)."""

    def __init__(self, broker_clock, ahead: timedelta) -> None:  # noqa: ANN001
        self._clock, self._ahead = broker_clock, ahead

    def now(self) -> datetime:
        return self._clock.now() + self._ahead


async def test_a_clock_ahead_of_the_brokers_never_hides_our_own_order(db, sink):
    """Our clock runs 30 s ahead of the broker's, far past the fixed 5 s margin. Acks carry
    the broker's time, so the skew is measured and widens the lookup's bound: a SELL whose
    answer was lost is still found as ours, not judged never sent (which would leave an
    execution unrecorded and a phantom position to sell again)."""
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, _AheadClock(clock, timedelta(seconds=30)))
    follower = OrderFollower(orders, store, sink, unseen_grace_s=0, unseen_lookups=1)
    lock = await locks.acquire_lock(symbols[0], "w1")
    bought = await orders.track(await orders.send_order(
        await _order(orders, lock, "BUY", 4, "ENTRY")), timeout_s=2)
    assert bought.filled_qty == 4
    market.faults.set("place_order", "drop_after_accept", count=1)
    sent = await orders.send_order(await _order(orders, lock, "SELL", 4, "LIQUIDATION"))
    assert sent.status is OrderStatus.UNKNOWN
    await follower.follow("w1")
    row = await store.get_order(sent.order_id)
    assert (row.status, row.filled_qty) == (OrderStatus.FILLED, 4)
    books = await read_books(db, market)
    assert books.clean, books


async def test_an_expired_order_the_broker_shows_still_resting_is_reopened_and_cancelled(
        db, sink):
    """A limit BUY rests at the exchange; its answer was lost and the list lagged past the
    grace, so it was expired. When the broker shows it still working, the row is open again
    (SENT, with its broker id) and its remainder is cancelled: nothing rests unfollowed."""
    clock, market, broker, symbols, locks = await world(db, sink)
    store = PostgresOrderStore(db)
    orders = OrderService(store, broker, sink, clock)
    follower = OrderFollower(orders, store, sink, unseen_grace_s=0, unseen_lookups=1,
                             late_look_s=0, cancel_after_s=0)
    lock = await locks.acquire_lock(symbols[0], "w1")
    floor = market.quote(symbols[0]).lower_limit           # far below: it rests
    row = await orders.create_order(lock, side="BUY", qty=5, order_type="LIMIT",
                                    limit_price=floor, purpose="ENTRY")
    market.faults.set("place_order", "drop_after_accept", count=1)
    market.faults.set("find_orders", "timeout", count=10_000)
    assert (await orders.send_order(row)).status is OrderStatus.UNKNOWN
    assert await store.expire_unseen(row.order_id, NEVER_SENT, min_age_s=0) is not None
    market.faults.clear()
    await follower.follow("w1")
    final = await store.get_order(row.order_id)
    assert final.status is OrderStatus.CANCELLED and final.broker_order_id
    at_exchange = market.report(final.broker_order_id)
    assert at_exchange.remaining_qty == 0 and at_exchange.filled_qty == final.filled_qty
