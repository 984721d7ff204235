"""Orders go first in the account's request budget (domain/request_budget.py): reads leave a
fifth of the limit to orders, so a sell on a stop is not refused a place because the fleet's
reads filled the second, and the total never exceeds the limit. Windows here are made long
(a large margin) so that nothing ages out during a test: what is granted does not depend on
how fast the machine is."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from tests.kis_harness import rig

from tradefleet.adapters.kis.broker import KisBroker
from tradefleet.adapters.kis.rate_window import SlidingWindowRateLimiter
from tradefleet.adapters.postgres.rate_budget import PostgresRateBudget, budget_key
from tradefleet.adapters.telemetry.metered_limiter import MeteredRateLimiter
from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.domain.request_budget import order_reserve

LONG = 60.0           # margin: a window of 61 s


def test_a_fifth_of_the_limit_is_kept_for_orders():
    assert [order_reserve(n) for n in (1, 2, 4, 5, 20, 200)] == [0, 0, 0, 1, 4, 40]


async def _stays_waiting(aw) -> asyncio.Task:  # noqa: ANN001
    task = asyncio.ensure_future(aw)
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done(), "granted past its cap"
    return task


async def _cancelled(*tasks: asyncio.Task) -> None:
    for t in tasks:
        t.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks)


async def test_in_process_reads_leave_the_reserve_and_an_order_passes_them():
    limiter = SlidingWindowRateLimiter(5, margin=LONG)       # reads 4, orders up to 5
    for _ in range(4):
        await asyncio.wait_for(limiter.acquire(), 1)
    read = await _stays_waiting(limiter.acquire())             # the fifth read waits
    await asyncio.wait_for(limiter.acquire(order=True), 1)    # an order does not
    second_order = await _stays_waiting(limiter.acquire(order=True))   # the limit holds
    await _cancelled(read, second_order)


@pytest.mark.parametrize("metered", [False, True], ids=["bare", "metered"])
async def test_in_process_slots_keep_the_reserve_too(metered):
    """Also through the worker's metered wrapper (the budget-wait metric), which must pass
    the order on."""
    limiter = SlidingWindowRateLimiter(5, margin=LONG)
    if metered:
        limiter = MeteredRateLimiter(limiter, lambda _s, _g: None)
    async with contextlib.AsyncExitStack() as held:
        for _ in range(4):
            await held.enter_async_context(limiter.slot())
        read = await _stays_waiting(held.enter_async_context(limiter.slot()))
        await asyncio.wait_for(held.enter_async_context(limiter.slot(order=True)), 1)
        await _cancelled(read)


def test_a_reserve_that_leaves_reads_nothing_is_refused_by_name():
    with pytest.raises(ValueError, match="reserve"):
        SlidingWindowRateLimiter(5, reserve=5)


async def test_the_fleets_budget_keeps_the_reserve_for_orders(db):
    key = budget_key("APPKEY-RESERVE", "real")
    budget = PostgresRateBudget(db, key, limit_per_second=5, margin=LONG, share_pool=0,
                                max_wait=1.0)
    for _ in range(4):
        await budget.acquire()
    with pytest.raises(TimeoutError):          # the reads' 4 are taken: no wait would do
        await budget.acquire()
    await budget.acquire(order=True)           # the order's place is there
    with pytest.raises(TimeoutError):          # and the limit still holds for orders
        await budget.acquire(order=True)
    counted = await db.pool.fetchval("SELECT count(*) FROM rate_grants WHERE budget_key = $1",
                                     key)
    assert counted == 5


async def test_an_order_post_passes_reads_waiting_for_the_budget():
    """Through the KIS client over HTTP: with the reads' places taken, a quote read waits,
    and a buy is sent at once."""
    async with rig() as r:
        limiter = SlidingWindowRateLimiter(5, margin=LONG)
        broker = KisBroker(r.config, r.session, r.tokens, limiter, clock=r.clock)
        await broker.authenticate()
        symbols = r.market.symbols()
        for s in symbols[:4]:
            await asyncio.wait_for(broker.get_quotes([s]), 5)
        read = await _stays_waiting(broker.get_quotes([symbols[4]]))
        quote = r.market.quote(symbols[5])
        ack = await asyncio.wait_for(broker.place_order(OrderRequest(
            "reserve-1", symbols[5], Side.BUY, OrderType.LIMIT, 1, quote.lower_limit)), 5)
        assert ack.broker_order_id
        await _cancelled(read)


async def test_a_share_that_would_reach_into_the_reserve_waits_for_reads_to_age_out(db):
    """A leased share may be spent by reads, so it is sized and started inside the reads'
    part: with one read grant in the window, a share of the whole reads' part (4 of 5)
    starts only once that grant has aged out, not at once into the orders' place."""
    key = budget_key("APPKEY-RESERVE-SHARE", "real")
    reads = PostgresRateBudget(db, key, limit_per_second=5, margin=LONG, share_pool=0,
                               max_wait=1.0)
    sharer = PostgresRateBudget(db, key, limit_per_second=5, margin=LONG, share_pool=4,
                                max_share=4, max_wait=1.0)
    await reads.acquire()
    await sharer.share._renew(4)
    assert sharer.share.renewals == 1
    assert sharer.share.share == 0             # not spendable yet: it would fill all 5
