"""Pushed fills are recorded at once and exactly once (issue 20). The simulator's real
WebSocket feed pushes its encrypted H0STCNI0 notices to the account's feed holder, which
publishes them through the test's real PostgreSQL; the worker (production wiring, the
scenario harness) records those of its own orders. Judged by the exchange's books: every
order's fills rows add up to what the exchange executed for it, with the order follower
(REST) run after the push, before it, and with duplicate, reordered and lost notices."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from tests.feed_env import HTS_ID, feed_env
from tests.feed_holder_env import ACCOUNT, holder, listening, running_holder, until
from tests.scenarios.harness import build, written_order

from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.feed.channels import notice_channel, notice_payload
from tradefleet.ports.feed import FeedState, FillNotice
from tradefleet.worker.fill_notices import FillNoticeRecorder

NOTICES = ("H0STCNI0", HTS_ID)


@contextlib.asynccontextmanager
async def rig_hearing_fills(db, pg_dsn, *, not_ours_retry_s: tuple[float, ...] = (0.05,)):
    """A worker, the account's holder registering the fill notices (no ticks), and the
    worker's listener handing them to its recorder."""
    async with feed_env() as env, listening(pg_dsn) as listener:
        rig = await build(db, market=env.market, clock=env.clock)
        recorder = FillNoticeRecorder(rig.cycle.paths.orders, rig.worker_id,
                                      rig.cycle.trading_day, not_ours_retry_s=not_ours_retry_s)
        heard: list[FillNotice] = []

        def hear(notice: FillNotice) -> None:
            heard.append(notice)
            recorder(notice)

        await listener.watch_notices(hear)
        async with running_holder(holder(db, env, "holder-a", set(), notices=NOTICES)):
            await until(lambda: listener.state()[0] is FeedState.LIVE)
            try:
                yield env, rig, recorder, heard
            finally:
                await recorder.close()


async def arm(env, kind: str, **body) -> None:
    url = env.ws_url.replace("ws://", "http://") + "/_admin/ws/faults"
    async with env.http.post(url, json={"kind": kind, **body}) as resp:
        assert resp.status == 200, await resp.text()


async def send(rig, row) -> str:
    """Our written row sent as the worker sends it (placed, its answer written; no track:
    only the push or a follower pass record its fills)."""
    sent = await rig.cycle.paths.orders.send_order(row)
    assert sent.broker_order_id is not None, sent
    return sent.broker_order_id


async def fills_of(db, order_id: int) -> list:
    return await db.pool.fetch("SELECT * FROM fills WHERE order_id = $1 ORDER BY fill_id",
                               order_id)


async def booked(db, env, order_id: int, odno: str) -> tuple[list, object]:
    """Our fills rows of one order against the exchange's own report of it."""
    report = env.market.report(odno)
    rows = await fills_of(db, order_id)
    assert sum(r["qty"] for r in rows) == report.filled_qty
    assert sum(r["amount"] for r in rows) == report.filled_amount
    order = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", order_id)
    assert (order["filled_qty"], order["filled_amount"]) == (report.filled_qty,
                                                            report.filled_amount)
    return rows, report


def small_symbol(env, skip: int = 0) -> str:
    """A liquid symbol whose three book levels cost under 40 M won (the account has 100 M)."""
    u = env.market.universe
    found = [s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 5
             and 3 * int(u.depth[i]) * int(u.upper_limit[i]) < 40_000_000]
    return found[skip]


def sweeping_qty(env, symbol: str) -> int:
    """A market buy that walks three levels of the book: three executions, three notices."""
    return 2 * int(env.market.universe.depth[env.market.symbols().index(symbol)]) + 1


def resting_qty(env, symbol: str) -> int:
    """A limit buy at the best ask three times the level's depth: one execution now, the
    rest resting (the order stays open, so a doubled fill would still fit in it)."""
    return 3 * int(env.market.universe.depth[env.market.symbols().index(symbol)])


async def test_a_pushed_fill_is_recorded_at_once_and_the_follower_adds_nothing(db, pg_dsn):
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, _listener):
        symbol = small_symbol(env)
        row = await written_order(rig, symbol, qty=sweeping_qty(env, symbol))
        odno = await send(rig, row)
        report = env.market.report(odno)
        assert report.filled_qty > 0
        # no follower pass: only the push can record it
        await until(lambda: recorder.outcomes.get("recorded", 0) == 3, timeout=5.0)
        before, _ = await booked(db, env, row.order_id, odno)
        await rig.follow()                        # REST sees the same executions
        after, _ = await booked(db, env, row.order_id, odno)
        assert [r["fill_id"] for r in after] == [r["fill_id"] for r in before]
        pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
        assert pos["bought_qty"] == report.filled_qty


async def test_duplicate_and_reordered_notices_never_double_a_fill(db, pg_dsn):
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, heard):
        sweep, rest = small_symbol(env), small_symbol(env, 1)
        await arm(env, "reorder_notices", count=1)
        await arm(env, "duplicate_notice", count=4)
        a = await written_order(rig, sweep, qty=sweeping_qty(env, sweep))
        odno_a = await send(rig, a)
        await until(lambda: recorder.outcomes.get("recorded", 0) == 3, timeout=5.0)
        limit = env.market.quote(rest).ask
        b = await written_order(rig, rest, qty=resting_qty(env, rest), limit_price=limit)
        odno_b = await send(rig, b)
        await until(lambda: recorder.outcomes.get("recorded", 0) == 4, timeout=5.0)
        assert env.server.faults.acted["duplicate_notice"] >= 1
        assert env.server.faults.acted["reorder_notices"] == 1
        await asyncio.sleep(0.2)                  # any late copy has landed
        for order, odno in ((a, odno_a), (b, odno_b)):
            await booked(db, env, order.order_id, odno)
        # copies in one publish collapse in NOTIFY; a copy in its own publish (a new holder
        # after a failover hearing them again) reaches the worker: the ledger stops it
        assert len(heard) >= 4
        for n in heard:
            await db.pool.execute("SELECT pg_notify($1, $2)", notice_channel(ACCOUNT),
                                  notice_payload(n, 99))
        await until(lambda: recorder.outcomes.get("duplicate", 0) >= len(heard) - 4,
                    timeout=5.0)
        await asyncio.sleep(0.2)
        for order, odno in ((a, odno_a), (b, odno_b)):
            await booked(db, env, order.order_id, odno)
        await rig.follow()
        for order, odno in ((a, odno_a), (b, odno_b)):
            await booked(db, env, order.order_id, odno)


async def test_the_follower_first_then_the_notice_records_nothing_more(db, pg_dsn):
    """The push late (a stalled stream): REST recorded the execution; its notice, when it
    comes, only joins the ledger."""
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, _listener):
        symbol = small_symbol(env)
        limit = env.market.quote(symbol).ask
        await arm(env, "stall", seconds=1.0)
        row = await written_order(rig, symbol, qty=resting_qty(env, symbol),
                                  limit_price=limit)
        odno = await send(rig, row)
        await rig.follow()
        first, report = await booked(db, env, row.order_id, odno)
        assert len(first) == 1 and report.filled_qty < row.qty
        await until(lambda: recorder.outcomes.get("follower ahead", 0) == 1, timeout=5.0)
        again, _ = await booked(db, env, row.order_id, odno)
        assert [r["fill_id"] for r in again] == [r["fill_id"] for r in first]


async def test_a_lost_notice_is_the_followers(db, pg_dsn):
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, _listener):
        symbol = small_symbol(env)
        await arm(env, "lose_notice", count=1)
        row = await written_order(rig, symbol, qty=sweeping_qty(env, symbol))
        odno = await send(rig, row)
        await until(lambda: recorder.outcomes.get("recorded", 0) == 2, timeout=5.0)
        report = env.market.report(odno)
        pushed = await fills_of(db, row.order_id)
        assert sum(r["qty"] for r in pushed) < report.filled_qty
        await rig.follow()
        await booked(db, env, row.order_id, odno)


async def test_a_persons_fill_on_the_same_symbol_is_never_ours(db, pg_dsn):
    """A person buys by hand the symbol our written (not yet answered) order is for: the
    notice names the same symbol and side, but no order of ours has its number."""
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, _listener):
        symbol = small_symbol(env)
        ours = await written_order(rig, symbol, qty=1)
        ack = await rig.broker.place_order(OrderRequest(
            f"person-{uuid.uuid4().hex[:8]}", symbol, Side.BUY, OrderType.MARKET, 2))
        assert env.market.report(ack.broker_order_id).filled_qty == 2
        await until(lambda: recorder.outcomes.get("not ours", 0) >= 1, timeout=5.0)
        assert await db.pool.fetchval("SELECT count(*) FROM fills") == 0
        assert await db.pool.fetchval("SELECT count(*) FROM fill_notices") == 0
        mine = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1",
                                      ours.order_id)
        assert (mine["broker_order_id"], mine["filled_qty"]) == (None, 0)


async def test_a_notice_larger_than_the_order_is_left_to_the_follower(db, pg_dsn):
    async with rig_hearing_fills(db, pg_dsn) as (env, rig, recorder, _listener):
        symbol = small_symbol(env)
        limit = env.market.quote(symbol).ask
        row = await written_order(rig, symbol, qty=resting_qty(env, symbol),
                                  limit_price=limit)
        odno = await send(rig, row)
        await until(lambda: recorder.outcomes.get("recorded", 0) == 1, timeout=5.0)
        too_many = FillNotice(odno, symbol, "BUY", row.qty, limit, "100000")
        assert await recorder.record(too_many) == "follower ahead"
        await booked(db, env, row.order_id, odno)
