"""Money paths under failure, driven through the worker's trading cycle against a real
database and the in-process simulated market; each test ends by checking the exchange's own
books (holdings, and every execution against our fills rows), not only our rows.

Numbers refer to the failures listed in the money-paths issue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.books import read_books
from tests.scenarios.harness import LIQUIDATION_AT, build, candidate, enter, liquid_symbol

from tradefleet.adapters.postgres.fenced_order import fence_holds
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.domain.errors import LockLost
from tradefleet.domain.states import WorkerStatus
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.worker.cycle import ENTRY_PENDING, Holding


async def _settle(rig, polls: int = 40, *, until=None) -> None:  # noqa: ANN001
    """Follower passes and cycle polls, as the running worker interleaves them."""
    for _ in range(polls):
        await rig.follow()
        await rig.cycle.poll()
        if until is not None and until():
            return


async def _liquidate(rig) -> None:  # noqa: ANN001
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    await _settle(rig, until=lambda: rig.cycle.holding is None)


async def _count(db, sql: str, *args) -> int:  # noqa: ANN001
    return int(await db.pool.fetchval(sql, *args))


async def _hold_pending_entry(rig, symbol: str) -> None:  # noqa: ANN001
    """The worker's entry step for ``symbol`` whose outcome is not known yet, then HOLD on
    it with no position, as a scan poll does."""
    outcome = await rig.cycle.paths.entry.try_enter([candidate(rig.market, symbol)],
                                               epoch=rig.cycle.epoch)
    assert outcome is not None and outcome.pending        # not abandoned, not forgotten
    rig.cycle.holding = Holding(outcome.lock, 0, 0, Decimal(0))
    await rig.cycle.move(WorkerStatus.HOLD, symbol=symbol, reason=ENTRY_PENDING)


async def _shares_no_row_records(rig, db) -> str:  # noqa: ANN001
    """An entry that reached the exchange, but the broker's list never showed it to us in
    time: the follower judged it never sent and the worker is back in SCAN, while the
    exchange holds the shares. Returns the symbol."""
    symbol = liquid_symbol(rig.market)
    rig.market.faults.set("place_order", "drop_after_accept", count=1)
    rig.market.faults.set("find_orders", "timeout", count=10_000)
    await _hold_pending_entry(rig, symbol)
    await _settle(rig, polls=3)
    order_id = await db.pool.fetchval("SELECT order_id FROM orders")
    assert await PostgresOrderStore(db).expire_unseen(order_id, "never listed (test)",
                                                      min_age_s=0) is not None
    await _settle(rig, until=lambda: rig.cycle.status is WorkerStatus.SCAN)
    return symbol


async def test_2_ambiguous_entry_not_yet_listed_is_followed_held_and_sold(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    rig.market.faults.set("place_order", "drop_after_accept", count=1)
    rig.market.faults.set("find_orders", "timeout", count=25)    # the broker's list lags
    await _hold_pending_entry(rig, symbol)
    await _settle(rig, until=lambda: rig.cycle.holding.position_id != 0)
    books = await read_books(db, rig.market)
    assert rig.cycle.holding.qty == books.holdings[symbol] > 0      # held, and held right
    await _liquidate(rig)
    books = await read_books(db, rig.market)
    assert books.clean, books
    assert await _count(db, "SELECT count(*) FROM orders WHERE side = 'BUY'") == 1
    assert await _count(db, "SELECT count(*) FROM positions WHERE status = 'CLOSED'") == 1


async def test_3_status_errors_while_tracking_never_abandon_the_order_nor_buy_more(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    # every status read is refused by the gateway's rate limit (EGW00201)
    rig.market.faults.set("get_order", "rate_limit", count=10_000)
    await _hold_pending_entry(rig, symbol)
    await _settle(rig, polls=5)
    assert await _count(db, "SELECT count(*) FROM orders") == 1       # nothing else bought
    assert rig.cycle.holding.position_id == 0
    # the process loses its in-memory holding (as after a crash of the poll): SCAN again
    rig.cycle.holding = None
    await rig.cycle.move(WorkerStatus.SCAN, symbol=None, reason="lost track (test)")
    await rig.cycle.poll()
    assert await _count(db, "SELECT count(*) FROM orders") == 1       # still nothing else
    rig.market.faults.clear()
    await _settle(rig, until=lambda: rig.cycle.holding is not None
                  and rig.cycle.holding.position_id != 0)
    assert rig.cycle.status is WorkerStatus.HOLD
    await _liquidate(rig)
    books = await read_books(db, rig.market)
    assert books.clean, books


async def test_3_an_ambiguous_cancel_leaves_the_order_to_the_follower(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    await enter(rig, symbol)
    rig.market.faults.set("cancel_order", "drop_after_accept", count=5)
    rig.market.faults.set("get_order", "error", count=40)
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    await rig.cycle.poll()                 # sells; every status read fails meanwhile
    assert await _count(db, "SELECT count(*) FROM orders WHERE side = 'SELL' "
                            "AND status = 'REJECTED'") == 0
    rig.market.faults.clear()
    await _settle(rig, until=lambda: rig.cycle.holding is None)
    books = await read_books(db, rig.market)
    assert books.clean, books


async def test_4_liquidation_with_failing_status_reads_records_the_fill_pnl_and_summary(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    await enter(rig, symbol)
    rig.market.faults.set("get_order", "timeout", count=60)
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    await rig.cycle.poll()
    assert rig.cycle.holding is not None                   # not flat yet in our rows
    rig.market.faults.clear()
    await _settle(rig, until=lambda: rig.cycle.holding is None)
    books = await read_books(db, rig.market)
    assert books.clean, books
    assert await _count(db, "SELECT count(*) FROM orders WHERE side = 'SELL'") == 1
    assert await _count(db, "SELECT count(*) FROM orders WHERE status = 'REJECTED'") == 0
    pos = await db.pool.fetchrow("SELECT status, realized_pnl FROM positions")
    assert pos["status"] == "CLOSED" and pos["realized_pnl"] is not None
    summary = await db.pool.fetchrow("SELECT trades_count, realized_pnl FROM daily_summaries")
    assert summary["trades_count"] == 1 and summary["realized_pnl"] == pos["realized_pnl"]


async def test_5_dead_workers_position_is_adopted_and_sold_by_a_live_worker(db):
    dead = await build(db, worker_id="w-dead")
    live = await build(db, worker_id="w-live", market=dead.market, clock=dead.clock)
    symbol = liquid_symbol(dead.market)
    await enter(dead, symbol)
    held = dead.cycle.holding.qty
    # the worker dies: its heartbeat ages past its TTL (database clock) and it is reclaimed
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '1 hour' "
                          "WHERE worker_id = 'w-dead'")
    locks = LockService(PostgresLockStore(db), live.sink, ttl_seconds=30)
    assert await locks.reclaim_expired() == ["w-dead"]
    await _settle(live, until=lambda: live.cycle.status is WorkerStatus.SCAN
                  and not live.market.balance().holdings)
    pos = await db.pool.fetchrow("SELECT * FROM positions")
    assert (pos["status"], pos["worker_id"], pos["adopted_from"]) == ("CLOSED", "w-live",
                                                                      "w-dead")
    assert pos["exit_reason"] == "ORPHAN" and pos["sold_qty"] == held
    assert await _count(db, "SELECT trades_count FROM daily_summaries "
                            "WHERE worker_id = 'w-live'") == 1
    assert await _count(db, "SELECT count(*) FROM stock_locks") == 0     # symbol free again
    books = await read_books(db, live.market)
    assert books.clean, books


async def test_5_shares_the_broker_holds_that_no_row_records_are_adopted_and_sold(db):
    rig = await build(db)
    await _shares_no_row_records(rig, db)
    assert rig.market.balance().holdings                 # yet the shares are there
    rig.market.faults.clear("place_order")          # the list still never shows it
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))   # no new entries: only the orphan
    await _settle(rig, until=lambda: not rig.market.balance().holdings)
    pos = await db.pool.fetchrow("SELECT * FROM positions")
    assert (pos["adopted_from"], pos["status"], pos["exit_reason"]) == ("exchange", "CLOSED",
                                                                        "ORPHAN")
    assert not rig.market.balance().holdings


async def test_5_holdings_our_orders_did_not_buy_today_are_never_sold(db):
    rig = await build(db)
    symbol, other = liquid_symbol(rig.market), liquid_symbol(rig.market, 1)
    # the account already held shares of another symbol (a person's own investment)
    from tradefleet.domain.orders import OrderRequest, OrderType, Side
    rig.market.submit(OrderRequest("manual-1", other, Side.BUY, OrderType.MARKET, 5))
    await enter(rig, symbol)
    await _liquidate(rig)
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=2))
    await _settle(rig, polls=6)
    holdings = {h.symbol: h.qty for h in rig.market.balance().holdings if h.qty}
    assert holdings == {other: 5}


async def test_7_guarded_insert_and_send_fence_refuse_an_older_epoch(db, sink):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    old_epoch = rig.cycle.epoch
    lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30).acquire_lock(
        symbol, "w-1", epoch=old_epoch)
    written = await rig.cycle.paths.orders.create_order(
        lock, side="BUY", qty=1, order_type="MARKET", limit_price=None, purpose="ENTRY")
    assert await fence_holds(db.pool, written.client_order_id, old_epoch)
    # a newer process of the same worker registers: the old epoch may neither write nor send
    await db.pool.execute("UPDATE workers SET epoch = epoch + 1 WHERE worker_id = 'w-1'")
    assert not await fence_holds(db.pool, written.client_order_id, old_epoch)
    try:
        await rig.cycle.paths.orders.create_order(
            lock, side="BUY", qty=1, order_type="MARKET", limit_price=None, purpose="ENTRY")
    except LockLost:
        pass
    else:
        raise AssertionError("an order row was written under a superseded epoch")
    assert await _count(db, "SELECT count(*) FROM orders") == 1


async def test_11_refused_guarded_insert_releases_the_lock_and_tries_the_next(db):
    other = await build(db, worker_id="w-other")
    rig = await build(db, market=other.market, clock=other.clock)
    blocked, free = liquid_symbol(rig.market), liquid_symbol(rig.market, 1)
    await enter(other, blocked)
    # the other worker's lock lapsed while its position is still open (about to be adopted)
    await db.pool.execute("DELETE FROM stock_locks WHERE symbol = $1", blocked)
    outcome = await rig.cycle.paths.entry.try_enter(
        [candidate(rig.market, blocked), candidate(rig.market, free)], epoch=rig.cycle.epoch)
    assert outcome is not None and outcome.lock.symbol == free
    assert await db.pool.fetchval("SELECT worker_id FROM stock_locks WHERE symbol = $1",
                                  blocked) is None
    assert await _count(db, "SELECT count(*) FROM orders WHERE symbol = $1", blocked) == 1


async def test_12_sell_path_after_the_lock_was_reclaimed_retakes_it_and_sells(db, logs):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    await enter(rig, symbol)
    await db.pool.execute("DELETE FROM stock_locks WHERE symbol = $1", symbol)
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    await _settle(rig, until=lambda: rig.cycle.holding is None)   # no LockLost escapes
    books = await read_books(db, rig.market)
    assert books.clean, books
    assert await _count(db, "SELECT count(*) FROM positions WHERE status = 'CLOSED'") == 1


async def test_fill_always_lands_even_when_another_worker_holds_the_symbol(db, sink):
    """The remaining window of the fence: a worker passed its last check, then paused before
    the HTTP send; meanwhile its lock was reclaimed and another worker bought the symbol.
    Its fill is recorded into its own position (never rolled back), for the orphan path."""
    late = await build(db, worker_id="w-late")
    other = await build(db, worker_id="w-other", market=late.market, clock=late.clock)
    symbol = liquid_symbol(late.market)
    lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30).acquire_lock(
        symbol, "w-late")
    # the late worker's order path past its send guard: the bare broker, as after the check
    past_guard = OrderService(PostgresOrderStore(db), late.broker, sink, late.clock)
    row = await past_guard.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                        limit_price=None, purpose="ENTRY")
    await db.pool.execute("DELETE FROM stock_locks WHERE symbol = $1", symbol)   # reclaimed
    await enter(other, symbol)
    sent = await past_guard.send_order(row)              # the send after the last check
    done = await past_guard.track(sent, timeout_s=2)
    assert done.filled_qty == 3
    owners = dict(await db.pool.fetch(
        "SELECT worker_id, qty FROM positions WHERE symbol = $1 AND status = 'OPEN'", symbol))
    assert owners["w-late"] == 3 and owners["w-other"] > 0
    books = await read_books(db, late.market)
    assert not books.unrecorded and not books.mismatched, books


async def test_entry_records_the_symbols_market_and_the_close_taxes_by_it(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    market = {i.symbol: i.market for i in rig.market.symbol_infos()}[symbol]
    await enter(rig, symbol)
    await _liquidate(rig)
    row = await db.pool.fetchrow("SELECT market, taxes, sell_amount FROM positions")
    assert row["market"] == market
    assert await db.pool.fetchval("SELECT market FROM orders WHERE side = 'BUY'") == market
    from tradefleet.domain.costs import DEFAULT_COSTS
    from tradefleet.domain.markets import Market
    assert row["taxes"] == DEFAULT_COSTS.sell_taxes(row["sell_amount"], Market(market)).total


async def test_lapsed_lease_sends_nothing_and_frees_the_lock(db):
    """No heartbeat renewed the lease (TTL 3 s, margin 1 s): the worker's own entry writes its
    row, is refused by its send guard (TF_LEASE) before any byte leaves, and frees the lock."""
    import asyncio

    rig = await build(db, worker_id="w-lapsed", TRADEFLEET_LOCKS__TTL_SECONDS="3",
                      TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS="1")
    await asyncio.sleep(2.1)                         # past TTL - margin, in real seconds
    assert not rig.worker.lease.valid()
    await rig.step()
    rows = await db.pool.fetch("SELECT status, reject_code FROM orders")
    assert rows and {(r["status"], r["reject_code"]) for r in rows} == {("REJECTED", "TF_LEASE")}
    books = await read_books(db, rig.market)
    assert books.orders_at_exchange == 0
    assert await _count(db, "SELECT count(*) FROM stock_locks") == 0
    assert rig.cycle.holding is None


async def test_5_stray_shares_are_adopted_only_once_seen_twice(db, logs):
    """The rule that protects a fill on its way into our rows: an excess of the broker's
    holdings over our positions is adopted only when a second look, a check later, still
    sees the same quantity."""
    rig = await build(db)
    symbol = await _shares_no_row_records(rig, db)
    rig.market.faults.clear("place_order")          # the list still never shows it
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    seen = "broker holds shares no position accounts for; checking again before adopting"
    before = len([r for r in logs.records if r.get("event") == seen])

    await rig.cycle.poll()                           # first sight: noted, not adopted

    assert await _count(db, "SELECT count(*) FROM events WHERE event_type = "
                            "'OrphanAdoptedEvent'") == 0
    assert await _count(db, "SELECT count(*) FROM positions") == 0
    noted = [r for r in logs.records if r.get("event") == seen][before:]
    assert [(r["symbol"], r["level"]) for r in noted] == [(symbol, "warning")]

    await rig.cycle.poll()                           # the same excess again: adopted

    pos = await db.pool.fetchrow("SELECT * FROM positions")
    assert (pos["symbol"], pos["adopted_from"]) == (symbol, "exchange")


async def test_stray_check_interval_runs_on_the_session_clock(db, logs):
    """A replay's worker looks at the broker's holdings every 5 s of *session* time (the
    runner's setting): a second poll at the same session time does not look (so the excess
    seen once is not adopted yet), the next one 5 session seconds later does, however few
    real seconds went by."""
    rig = await build(db, stray_check_s=5.0, stray_on_session_clock=True)
    symbol = await _shares_no_row_records(rig, db)
    rig.market.faults.clear("place_order")
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    seen = "broker holds shares no position accounts for; checking again before adopting"
    before = len([r for r in logs.records if r.get("event") == seen])

    await rig.cycle.poll()                           # a look: first sight, noted
    await rig.cycle.poll()                           # same session time: no look
    await rig.cycle.poll()

    noted = [r for r in logs.records if r.get("event") == seen][before:]
    assert [r["symbol"] for r in noted] == [symbol]
    assert await _count(db, "SELECT count(*) FROM positions") == 0

    rig.clock.advance(4.9)
    await rig.cycle.poll()                           # 4.9 session s on: still no look
    assert await _count(db, "SELECT count(*) FROM positions") == 0

    rig.clock.advance(0.1)
    await rig.cycle.poll()                           # 5 session s on: looks, adopts
    pos = await db.pool.fetchrow("SELECT * FROM positions")
    assert (pos["symbol"], pos["adopted_from"]) == (symbol, "exchange")


async def test_restart_with_an_unsettled_entry_keeps_its_lock_and_buys_nothing(db):
    """A process dies while its buy is unresolved (the answer was lost, the broker's list
    does not show it yet). The next process of the worker recovers: the order is still open,
    so the lock stays held (the shares may be ours) and nothing else is bought."""
    first = await build(db, worker_id="w-phoenix")
    symbol = liquid_symbol(first.market)
    first.market.faults.set("place_order", "drop_after_accept", count=1)
    first.market.faults.set("find_orders", "timeout", count=10_000)
    outcome = await first.cycle.paths.entry.try_enter([candidate(first.market, symbol)],
                                                 epoch=first.cycle.epoch)
    assert outcome is not None and outcome.pending
    token = outcome.lock.fencing_token

    again = await build(db, worker_id="w-phoenix", market=first.market, clock=first.clock)

    assert again.cycle.epoch > first.cycle.epoch
    lock = await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", symbol)
    assert (lock["worker_id"], lock["fencing_token"]) == ("w-phoenix", token)
    for _ in range(3):
        await again.step()
    assert await _count(db, "SELECT count(*) FROM orders") == 1
    assert await _count(db, "SELECT count(*) FROM orders WHERE status IN "
                            "('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')") == 1
    assert await db.pool.fetchval("SELECT worker_id FROM stock_locks WHERE symbol = $1",
                                  symbol) == "w-phoenix"
