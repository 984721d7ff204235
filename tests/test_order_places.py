"""Orders' own places in the fleet's budget (migration 0019): an order past its share is
granted while fewer than the reserve's order rows are in the window, whatever else is counted
on paper (a share waiting to start, late rows), and past those under the whole limit; reads
and shares never take those places, and the broker never sees more than the limit.

Windows are made long (a large margin) so that nothing ages out during a test, except in the
last test, which asserts on the calls' own timestamps what always holds."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from tests.budget_rig import budgets_apart
from tests.exchange_thread import max_in_any_second

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_budget import PostgresRateBudget, budget_key

LONG = 60.0           # margin: a window of 61 s
WINDOW = 1.0 + LONG


def _budget(db: Database, key: str, **kw) -> PostgresRateBudget:
    """Limit 5: reads 4, one order place; no leased share of its own."""
    return PostgresRateBudget(db, key, limit_per_second=5, margin=LONG, share_pool=0,
                              max_wait=1.0, **kw)


async def _waiting_share(db: Database, key: str, want: int) -> float:
    """A share leased by another process under the reads' part; its starts_in."""
    row = await db.pool.fetchrow(
        "SELECT granted, starts_in FROM tf_rate_share($1, 'other', 4, $2, $3, 5.0, 4)",
        key, WINDOW, want)
    assert row["granted"] == want
    return float(row["starts_in"])


async def _rows(db: Database, key: str) -> tuple[int, int]:
    """(order rows, other rows) in the table."""
    row = await db.pool.fetchrow(
        "SELECT count(*) FILTER (WHERE for_order) AS o, count(*) FILTER (WHERE NOT for_order) "
        "AS r FROM rate_grants WHERE budget_key = $1", key)
    return row["o"], row["r"]


async def test_an_order_takes_its_own_place_while_the_whole_count_is_full_on_paper(db):
    key = budget_key("APPKEY-ORDER-PLACE", "real")
    budget = _budget(db, key)
    for _ in range(4):
        await budget.acquire()
    assert await _waiting_share(db, key, 2) > 0       # counted now, spendable in 61 s
    with pytest.raises(TimeoutError):                 # the whole count (6 of 5) is full
        await budget.acquire()
    await budget.acquire(order=True)                  # the order's own place is free
    assert await _rows(db, key) == (1, 4)
    with pytest.raises(TimeoutError):                 # and it is the only one
        await budget.acquire(order=True)


async def test_past_its_own_places_an_order_is_granted_under_the_whole_limit_only(db):
    """Own places full: orders fall back to the whole count (rows and counted shares), up to
    the limit and not one past it."""
    key = budget_key("APPKEY-ORDER-FALLBACK", "real")
    budget = _budget(db, key)
    for _ in range(2):
        await budget.acquire()
    assert await _waiting_share(db, key, 1) == 0      # 3 counted
    for _ in range(2):                                # own place, then the fallback: 5
        await budget.acquire(order=True)
    assert await _rows(db, key) == (2, 2)
    with pytest.raises(TimeoutError):
        await budget.acquire(order=True)


async def test_an_order_past_the_reads_part_is_granted_by_the_fallback(db):
    """With the reads' part full, one order by its own place and one more by the fallback:
    the fallback judges under the whole limit, not the reads' part."""
    key = budget_key("APPKEY-ORDER-WHOLE", "real")
    budget = _budget(db, key)
    for _ in range(3):
        await budget.acquire()
    await budget.acquire(order=True)                  # 4: its own place
    await budget.acquire(order=True)                  # 5: 4 < 5 by the fallback
    assert await _rows(db, key) == (2, 3)


async def test_reads_and_shares_count_order_rows_and_never_take_an_order_place(db):
    """Two orders in the window (one past the reserve): reads get the reads' part less those
    two, and a share that would reach past it waits for them to age out."""
    key = budget_key("APPKEY-ORDER-READS", "real")
    budget = _budget(db, key)
    for _ in range(2):
        await budget.acquire(order=True)
    row = await db.pool.fetchrow(
        "SELECT granted, starts_in FROM tf_rate_share($1, 'other', 4, $2, 3, 5.0, 4)",
        key, WINDOW)
    assert row["granted"] == 3 and row["starts_in"] > 0   # 2 + 3 > 4: not at once
    await db.pool.execute("DELETE FROM rate_shares WHERE budget_key = $1", key)
    for _ in range(2):
        await budget.acquire()
    with pytest.raises(TimeoutError):
        await budget.acquire()
    assert await _rows(db, key) == (2, 2)


@pytest.mark.parametrize("order", [True, False], ids=["order", "read"])
async def test_a_late_answer_keeps_the_kind_of_its_place(db, order):
    """An order answered past the margin records its extra row as an order row (it keeps its
    order place); a read's stays a read's."""
    key = budget_key("APPKEY-ORDER-LATE", "real")
    budget = PostgresRateBudget(db, key, limit_per_second=5, margin=0.05, lease_seconds=0.01,
                                share_pool=0)
    async with budget.slot(order=order):
        await asyncio.sleep(0.1)
    await budget.close()                              # waits for the late row
    assert budget.late_answers == 1
    assert await _rows(db, key) == ((2, 0) if order else (0, 2))


async def test_reads_shares_and_orders_of_several_processes_never_exceed_the_limit(pg_dsn):
    """Steady readers on leased shares, flat-out readers, and flat-out orderers, some
    answered late, each with its own pool (as separate processes): the calls' own timestamps
    never put more than the limit in any one-second window. Seeded; asserts what always
    holds."""
    limit, seconds = 10, 4.0
    rng = random.Random(20)
    key = budget_key("APPKEY-ORDER-MIXED", "real")
    stamps: list[float] = []
    kinds: dict[str, int] = {"read": 0, "order": 0}
    end = time.monotonic() + seconds

    async def steady(budget: PostgresRateBudget) -> None:
        while time.monotonic() < end:
            await budget.acquire()
            stamps.append(time.monotonic())
            kinds["read"] += 1
            await asyncio.sleep(0.15)

    async def flat_out(budget: PostgresRateBudget, order: bool) -> None:
        while time.monotonic() < end:
            async with budget.slot(order=order):
                stamps.append(time.monotonic())
                kinds["order" if order else "read"] += 1
                if rng.random() < 0.2:                # answered past the margin
                    await asyncio.sleep(0.15)

    async with budgets_apart(pg_dsn, key, 6, limit=limit, max_size=3) as budgets:
        await asyncio.gather(*(steady(b) for b in budgets[:2]),
                             flat_out(budgets[2], False), flat_out(budgets[3], False),
                             flat_out(budgets[4], True), flat_out(budgets[5], True))
        late = sum(b.late_answers for b in budgets)
        share_sends = sum(b.share.sends for b in budgets if b.share is not None)
    assert share_sends > 0 and late > 0 and kinds["order"] > 0     # every path in play
    assert max_in_any_second(stamps) <= limit
