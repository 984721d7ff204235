"""A person trading by hand on the fleet's own account (issue 16, defects 1 and 2): only
shares our own orders could have bought are ever ours, and no order of the person's is ever
matched to a row of ours. Driven through the worker built as production builds it, against a
real database and the in-process simulated market; judged by the exchange's own books."""

from __future__ import annotations

from datetime import timedelta

from tests.books import read_books
from tests.scenarios.harness import LIQUIDATION_AT, build, candidate, enter, liquid_symbol

from tradefleet.adapters.sim.book import LEVELS
from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.domain.states import WorkerStatus


def held(market, symbol: str) -> int:  # noqa: ANN001
    h = market.holdings().of(symbol)
    return 0 if h is None else h.qty


def person_buys(market, symbol: str, qty: int) -> set[str]:  # noqa: ANN001
    """A person's market buys by hand until the account holds ``qty`` more of ``symbol``
    (each buy fills what the book offers). Returns the broker ids of the person's orders."""
    start, ids = held(market, symbol), set()
    while held(market, symbol) - start < qty:
        rest = qty - (held(market, symbol) - start)
        ack = market.submit(OrderRequest(f"manual-{symbol}-{len(ids)}", symbol, Side.BUY,
                                         OrderType.MARKET, rest))
        ids.add(ack.broker_order_id)
        assert len(ids) < 500, "the book never filled the person's buys"
    return ids


async def _after_the_close_settles(rig, polls: int = 12) -> None:  # noqa: ANN001
    """The liquidation, then passes of the reconciler (a stray needs two sightings)."""
    rig.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
    for _ in range(polls):
        await rig.follow()
        await rig.cycle.poll()


async def _orphan_sells(db) -> int:  # noqa: ANN001
    return int(await db.pool.fetchval(
        "SELECT coalesce(sum(filled_qty), 0) FROM orders WHERE purpose = 'ORPHAN'"))


async def test_our_rejected_buy_never_makes_a_persons_shares_ours(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    manual = person_buys(rig.market, symbol, 1_000)
    persons = held(rig.market, symbol)
    rig.market.faults.set("place_order", "reject", count=1)
    outcome = await rig.cycle.paths.entry.try_enter([candidate(rig.market, symbol)],
                                               epoch=rig.cycle.epoch)
    assert outcome is None or outcome.lock is None
    assert await db.pool.fetchval("SELECT status FROM orders WHERE side = 'BUY'") == "REJECTED"
    await _after_the_close_settles(rig)
    assert held(rig.market, symbol) == persons                 # the person's, untouched
    assert await _orphan_sells(db) == 0
    assert await db.pool.fetchval("SELECT count(*) FROM positions") == 0
    books = await read_books(db, rig.market)
    assert set(books.unrecorded) == manual and not books.mismatched, books


async def test_a_partly_filled_entry_makes_only_its_own_fill_ours(db):
    """A thin book: our entry for 193 fills what the book offers and the rest is cancelled
    (the simulator's market orders are immediate-or-cancel). The person also holds shares of
    the symbol, bought by hand: only our fill is ever ours to sell."""
    probe = await build(db, worker_id="w-probe")
    u = probe.market.universe
    symbol = next(s for i, s in enumerate(u.symbols) if u.thin[i])
    book_offers = int(u.depth[u.symbols.index(symbol)]) * LEVELS    # one market order's take
    price = probe.market.quote(symbol).price
    rig = await build(db, market=probe.market, clock=probe.clock, capital_limit=price * 193)
    manual = person_buys(rig.market, symbol, book_offers)
    persons = held(rig.market, symbol)
    await enter(rig, symbol)
    entry = await db.pool.fetchrow("SELECT * FROM orders WHERE worker_id = 'w-1'")
    assert entry["status"] == "CANCELLED" and 0 < entry["filled_qty"] < entry["qty"] == 193
    ours = entry["filled_qty"]
    assert held(rig.market, symbol) == persons + ours
    await _after_the_close_settles(rig)
    assert rig.cycle.status is not WorkerStatus.HOLD
    assert held(rig.market, symbol) == persons                 # ours sold, theirs kept
    assert await _orphan_sells(db) == 0
    sold = await db.pool.fetchval("SELECT sum(filled_qty) FROM orders WHERE side = 'SELL'")
    assert sold == ours
    books = await read_books(db, rig.market)
    assert set(books.unrecorded) == manual and not books.mismatched, books


def person_order(market, symbol: str, side: Side, qty: int) -> str:  # noqa: ANN001
    """One order placed by hand (HTS/MTS): it carries no client order id of ours."""
    return market.submit(OrderRequest("", symbol, side, OrderType.MARKET, qty)).broker_order_id


async def test_recovery_never_claims_a_persons_earlier_order_of_the_same_size(db):
    """10:00 a person buys 100 X by hand; 10:10 our worker writes a BUY 100 X row and is
    killed before the send. Its next process must judge the row never sent, not match the
    person's order to it (which would make the person's shares ours, held, and sold)."""
    first = await build(db, worker_id="w-phoenix")
    symbol = liquid_symbol(first.market)
    manual = person_order(first.market, symbol, Side.BUY, 100)
    persons = held(first.market, symbol)
    first.clock.advance(600)
    lock = await first.cycle.paths.entry._locks.acquire_lock(symbol, "w-phoenix",
                                                        epoch=first.cycle.epoch)
    row = await first.cycle.paths.orders.create_order(lock, side="BUY", qty=100,
                                                 order_type="MARKET", limit_price=None,
                                                 purpose="ENTRY")
    # killed here: the row is written, nothing was sent
    again = await build(db, worker_id="w-phoenix", market=first.market, clock=first.clock)
    for _ in range(6):
        await again.step()
    final = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", row.order_id)
    assert (final["status"], final["broker_order_id"]) == ("EXPIRED", None)
    assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE symbol = $1",
                                  symbol) == 0
    await _after_the_close_settles(again)
    assert held(again.market, symbol) == persons                # the person's, untouched
    assert await _orphan_sells(db) == 0
    books = await read_books(db, again.market)
    assert set(books.unrecorded) == {manual} and not books.mismatched, books


async def test_an_echoed_client_order_id_wins_over_an_earlier_order_of_the_same_size(db):
    """Our row is written; a person then buys the same size by hand; our send reaches the
    exchange but its answer is lost. Both orders are after the row was written: the lookup
    takes the one echoing our client order id, never the person's (the older one)."""
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    lock = await rig.cycle.paths.entry._locks.acquire_lock(symbol, "w-1", epoch=rig.cycle.epoch)
    row = await rig.cycle.paths.orders.create_order(lock, side="BUY", qty=100, order_type="MARKET",
                                               limit_price=None, purpose="ENTRY")
    rig.clock.advance(1)
    manual = person_order(rig.market, symbol, Side.BUY, 100)
    rig.clock.advance(1)
    rig.market.faults.set("place_order", "drop_after_accept", count=1)
    sent = await rig.cycle.paths.orders.send_order(row)
    assert sent.status == "UNKNOWN"
    done = await rig.cycle.paths.orders.track(sent, timeout_s=2)
    assert done.status == "FILLED" and done.broker_order_id != manual
    books = await read_books(db, rig.market)
    assert set(books.unrecorded) == {manual} and not books.mismatched, books
