"""Money-path guards the mutation audit found without a test (issue 16), each driven through
the worker's own order path, follower and trading cycle against a real database and the
simulated market, and judged by the exchange's books. Limit orders are what rests at the
simulated exchange (its market orders are immediate-or-cancel)."""

from __future__ import annotations

from datetime import timedelta

from tests.books import read_books
from tests.scenarios.harness import (
    LIQUIDATION_AT,
    build,
    candidate,
    enter,
    liquid_symbol,
    written_order,
)
from tests.test_money_paths import _count, _liquidate, _settle

from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService


async def _partly_filled_limit_buy(rig):  # noqa: ANN001, ANN202
    """A LIMIT BUY at the best ask for three times the level's depth, sent by the worker:
    one level fills at once, the remainder rests at the exchange."""
    symbol = liquid_symbol(rig.market)
    depth = int(rig.market.universe.depth[rig.market.symbols().index(symbol)])
    row = await written_order(rig, symbol, qty=3 * depth,
                              limit_price=rig.market.quote(symbol).ask)
    sent = await rig.cycle.paths.orders.send_order(row)
    assert sent.status is OrderStatus.SENT
    first = rig.market.report(sent.broker_order_id)
    assert 0 < first.filled_qty < sent.qty and not first.is_done
    return sent


async def test_the_follower_cancels_a_remainder_left_resting(db):
    rig = await build(db)
    row = await _partly_filled_limit_buy(rig)
    await rig.follow()                               # young: recorded, left resting
    row = await rig.cycle.paths.orders._store.get_order(row.order_id)
    assert row.status is OrderStatus.PARTIALLY_FILLED
    assert not rig.market.report(row.broker_order_id).is_done
    await db.pool.execute("UPDATE orders SET sent_at = sent_at - interval '1 minute'")
    await rig.follow()                               # past its time: the remainder cancelled
    at_exchange = rig.market.report(row.broker_order_id)
    assert at_exchange.is_done and at_exchange.filled_qty < row.qty
    row = await rig.cycle.paths.orders._store.get_order(row.order_id)
    assert (row.status, row.filled_qty) == (OrderStatus.CANCELLED, at_exchange.filled_qty)
    books = await read_books(db, rig.market)
    assert not books.unrecorded and not books.mismatched, books
    assert await db.pool.fetchval("SELECT qty FROM positions") == at_exchange.filled_qty


async def test_two_increasing_partial_fill_reports_are_both_recorded_once(db):
    rig = await build(db)
    row = await _partly_filled_limit_buy(rig)
    orders = rig.cycle.paths.orders
    first = rig.market.report(row.broker_order_id)
    second = first
    for _ in range(200):                             # the rest fills as the price comes back
        rig.clock.advance(10)
        second = rig.market.report(row.broker_order_id)
        if second.filled_qty > first.filled_qty:
            break
    assert first.filled_qty < second.filled_qty < row.qty
    row = await orders.apply(row, first)
    row = await orders.apply(row, second)
    row = await orders.apply(row, first)             # a stale report, and a repeated one
    row = await orders.apply(row, second)
    assert (row.status, row.filled_qty) == (OrderStatus.PARTIALLY_FILLED, second.filled_qty)
    fills = await db.pool.fetch("SELECT qty, amount FROM fills ORDER BY fill_id")
    assert [f["qty"] for f in fills] == [first.filled_qty, second.filled_qty - first.filled_qty]
    assert sum(f["amount"] for f in fills) == second.filled_amount
    pos = await db.pool.fetchrow("SELECT qty, buy_amount FROM positions")
    assert (pos["qty"], pos["buy_amount"]) == (second.filled_qty, second.filled_amount)


async def test_a_refused_liquidation_sell_is_retried_in_the_same_pass(db):
    rig = await build(db)
    await enter(rig, liquid_symbol(rig.market))
    rig.market.faults.set("place_order", "reject", count=1, code="APBK0919")
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    await rig.cycle.poll()                           # one liquidation pass
    assert rig.cycle.holding is None
    sells = await db.pool.fetch("SELECT status FROM orders WHERE side = 'SELL' "
                                "ORDER BY order_id")
    assert [s["status"] for s in sells] == ["REJECTED", "FILLED"]
    assert await _count(db, "SELECT count(*) FROM events WHERE event_type = "
                            "'LiquidationShortfallEvent'") == 0
    assert await _count(db, "SELECT count(*) FROM daily_summaries "
                            "WHERE daily_tuning(trading_day, worker_id) ? "
                            "'liquidity_shortfall'") == 0
    books = await read_books(db, rig.market)
    assert books.clean, books


async def test_twin_rows_only_one_sent_never_share_its_execution(db):
    """Two rows of ours, same symbol, side and quantity: one written by a process that died
    before sending it, then one sent and filled. Following the unsent one finds the sent
    one's order at the broker; it must not take it (its fills would be counted twice). The
    broker echoes no client ids here, as KIS does not: only the taken-ids rule tells them
    apart."""
    rig = await build(db)
    rig.broker.echo_client_ids = False
    symbol = liquid_symbol(rig.market)
    lock = await LockService(PostgresLockStore(db), rig.sink, ttl_seconds=300).acquire_lock(
        symbol, rig.worker_id, epoch=rig.cycle.epoch)
    died_before_send = OrderService(PostgresOrderStore(db), rig.broker, rig.sink, rig.clock)
    unsent = await died_before_send.create_order(
        lock, side="BUY", qty=7, order_type="MARKET", limit_price=None, purpose="ENTRY")
    rig.clock.advance(1)
    sent = await rig.cycle.paths.orders.send_order(await rig.cycle.paths.orders.create_order(
        lock, side="BUY", qty=7, order_type="MARKET", limit_price=None, purpose="ENTRY"))
    sent = await rig.cycle.paths.orders.track(sent, timeout_s=2)
    assert sent.filled_qty == 7
    await _settle(rig, polls=6)
    twin = await rig.cycle.paths.orders._store.get_order(unsent.order_id)
    assert (twin.status, twin.broker_order_id, twin.filled_qty) == (OrderStatus.EXPIRED,
                                                                    None, 0)
    books = await read_books(db, rig.market)
    assert not books.unrecorded and not books.mismatched, books
    assert await db.pool.fetchval("SELECT sum(qty) FROM positions WHERE status = 'OPEN'") == \
        books.holdings[symbol] == 7


async def test_a_dead_workers_position_with_an_open_sell_is_not_sold_twice(db):
    """The dead worker's limit SELL still rests at the exchange: its position is no orphan
    until that order is final. Then it is adopted and sold, once."""
    dead = await build(db, worker_id="w-dead")
    symbol = liquid_symbol(dead.market)
    await enter(dead, symbol)
    held = dead.cycle.holding
    resting = await dead.cycle.paths.orders.send_order(await dead.cycle.paths.orders.create_order(
        held.lock, side="SELL", qty=held.qty, order_type="LIMIT",
        limit_price=dead.market.quote(symbol).upper_limit, purpose="TAKE_PROFIT"))
    assert resting.status is OrderStatus.SENT
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '1 hour' "
                          "WHERE worker_id = 'w-dead'")
    live = await build(db, worker_id="w-live", market=dead.market, clock=dead.clock)
    assert await LockService(PostgresLockStore(db), live.sink, ttl_seconds=30
                             ).reclaim_expired() == ["w-dead"]
    live.clock.set(LIQUIDATION_AT + timedelta(minutes=1))      # it buys nothing of its own
    await _settle(live, polls=4)
    assert await db.pool.fetchval("SELECT worker_id FROM positions") == "w-dead"
    assert await _count(db, "SELECT count(*) FROM orders WHERE side = 'SELL'") == 1
    # the resting sell ages past its time: the follower cancels it, then the orphan is sold
    await db.pool.execute("UPDATE orders SET sent_at = sent_at - interval '1 minute' "
                          "WHERE order_id = $1", resting.order_id)
    await _settle(live, until=lambda: not live.market.balance().holdings)
    pos = await db.pool.fetchrow("SELECT * FROM positions")
    assert (pos["worker_id"], pos["status"], pos["sold_qty"]) == ("w-live", "CLOSED", held.qty)
    books = await read_books(db, live.market)
    assert books.clean, books


def _persons_buy(rig, symbol: str, qty: int) -> None:  # noqa: ANN001
    """A person buys by hand on the worker's account (no row of ours)."""
    rig.market.submit(OrderRequest("by-hand-1", symbol, Side.BUY, OrderType.MARKET, qty))


async def test_a_persons_shares_of_a_symbol_we_bought_and_sold_today_stay(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    _persons_buy(rig, symbol, 5)
    await enter(rig, symbol)
    assert rig.market.balance().holdings[0].qty > 5
    await _liquidate(rig)
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=2))
    await _settle(rig, polls=6)                      # the stray check looks every poll here
    holdings = {h.symbol: h.qty for h in rig.market.balance().holdings if h.qty}
    assert holdings == {symbol: 5}
    assert await _count(db, "SELECT count(*) FROM positions WHERE adopted_from IS NOT NULL") == 0


async def test_a_persons_shares_stay_when_our_buy_of_the_symbol_was_rejected(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    _persons_buy(rig, symbol, 50)
    rig.market.faults.set("place_order", "reject", count=1)
    assert await rig.cycle.paths.entry.try_enter([candidate(rig.market, symbol)],
                                            epoch=rig.cycle.epoch) is None
    assert await db.pool.fetchval("SELECT status FROM orders") == "REJECTED"
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    await _settle(rig, polls=6)
    holdings = {h.symbol: h.qty for h in rig.market.balance().holdings if h.qty}
    assert holdings == {symbol: 50}


async def test_liquidation_starts_exactly_at_the_liquidation_time(db):
    rig = await build(db)
    assert rig.cycle.liquidation_at == LIQUIDATION_AT
    await enter(rig, liquid_symbol(rig.market))
    rig.clock.set(LIQUIDATION_AT)
    await rig.cycle.poll()
    assert rig.cycle.holding is None
    assert await db.pool.fetchval("SELECT purpose FROM orders WHERE side = 'SELL'") == \
        "LIQUIDATION"
    await rig.cycle.poll()                           # scanning at that very time: no buying
    assert rig.cycle.buying_stopped
    assert await _count(db, "SELECT count(*) FROM orders WHERE side = 'BUY'") == 1
    assert (await read_books(db, rig.market)).clean
