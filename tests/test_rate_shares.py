"""Leased shares of the fleet's per-appkey budget (migration 0006, ``rate_share.py``).

A steady caller spends its share with no database round trip; shares and per-call grants
together still never put more than the limit in any second; a share given back or shrunk
keeps counting for as long as the old lease could still be spent; an idle process's share
lapses so that others get the pool."""

from __future__ import annotations

import asyncio
import time

from tests.budget_rig import budgets_apart
from tests.exchange_thread import max_in_any_second

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_budget import PostgresRateBudget, budget_key
from tradefleet.domain.request_budget import order_reserve

WINDOW = 1.1


async def _share(db: Database, key: str, holder: str, *, limit: int, want: int,
                 ttl: float = 5.0, pool: int | None = None) -> int:
    return await db.pool.fetchval(
        "SELECT granted FROM tf_rate_share($1, $2, $3, $4, $5, $6, $7)",
        key, holder, limit, WINDOW, want, ttl, limit if pool is None else pool)


async def _grant(db: Database, key: str, *, limit: int, want: int) -> float:
    return await db.pool.fetchval("SELECT tf_rate_acquire_batch($1, $2, $3, $4)",
                                  key, limit, WINDOW, want)


async def test_steady_caller_spends_its_share_without_round_trips(db):
    budget = PostgresRateBudget(db, budget_key("APPKEY-STEADY", "real"), limit_per_second=20)
    for _ in range(6):                          # the first calls lease the share
        await budget.acquire()
        await asyncio.sleep(0.2)
    assert budget.share is not None and budget.share.share >= 1
    trips_before, sends_before = budget.round_trips, budget.share.sends
    calls = 20
    for _ in range(calls):                      # 4 a second: inside the leased share
        await budget.acquire()
        await asyncio.sleep(0.25)
    assert budget.round_trips == trips_before
    assert budget.share.sends - sends_before == calls
    assert budget.share.renewals >= 2           # kept alive in the background
    await budget.close()


async def test_shares_and_grants_together_never_exceed_the_limit(pg_dsn):
    """Steady callers on leased shares and flat-out callers on grants, each with its own
    pool (as separate processes would be): the calls' own timestamps never put more than
    the limit in any one-second window, and the flat-out callers still get the rest."""
    limit, seconds = 12, 4.0
    key = budget_key("APPKEY-MIXED", "real")
    stamps: list[float] = []
    end = time.monotonic() + seconds

    async def steady(budget: PostgresRateBudget) -> None:
        while time.monotonic() < end:
            await budget.acquire()
            stamps.append(time.monotonic())
            await asyncio.sleep(0.15)

    async def flat_out(budget: PostgresRateBudget) -> None:
        while time.monotonic() < end:
            await budget.acquire()
            stamps.append(time.monotonic())

    async with budgets_apart(pg_dsn, key, 6, limit=limit) as budgets:
        await asyncio.gather(*(steady(b) for b in budgets[:3]),
                             *(flat_out(b) for b in budgets[3:]))
        share_sends = sum(b.share.sends for b in budgets if b.share is not None)
    assert share_sends > 0                       # shares were really in play
    assert max_in_any_second(stamps) <= limit
    # and the budget was not left idle: these are all reads, which leave the orders' reserve
    reads_cap = limit - order_reserve(limit)
    assert len(stamps) >= 0.6 * reads_cap * seconds


async def test_pool_caps_shares_and_leaves_the_rest_to_grants(db):
    key = budget_key("APPKEY-POOL", "real")
    got = [await _share(db, key, f"h{i}", limit=20, want=5, pool=10) for i in range(3)]
    assert got == [5, 5, 0]                      # the pool is 10
    assert await _grant(db, key, limit=20, want=20) == 10     # 20 - the two shares
    assert await _grant(db, key, limit=20, want=1) < 0        # full: told how long to wait


async def test_shrunk_or_released_share_stays_counted_while_the_old_lease_may_be_spent(db):
    key = budget_key("APPKEY-SHRINK", "real")
    limit = 6
    assert await _share(db, key, "a", limit=limit, want=5) == 5
    assert await _share(db, key, "a", limit=limit, want=1) == 1   # shrink
    # the holder may still be spending 5 until its old lease ends: only 1 is left for grants
    assert await _grant(db, key, limit=limit, want=6) == 1
    assert await _share(db, key, "a", limit=limit, want=0) == 0   # give it back
    assert await _grant(db, key, limit=limit, want=1) < 0
    counted = await db.pool.fetchval(
        "SELECT tf_rate_share_counted(r, clock_timestamp(), $2) FROM rate_shares r "
        "WHERE budget_key = $1 AND holder = 'a'", key, WINDOW)
    assert counted == 5


async def test_idle_holder_lapses_and_another_gets_the_pool(db):
    key = budget_key("APPKEY-LAPSE", "real")
    ttl = 0.3
    assert await _share(db, key, "idle", limit=4, want=4, ttl=ttl) == 4
    assert await _share(db, key, "new", limit=4, want=4, ttl=ttl) == 0
    await asyncio.sleep(ttl + WINDOW + 0.1)       # the lease ended one window ago
    assert await _share(db, key, "new", limit=4, want=4, ttl=ttl) == 4
    holders = await db.pool.fetch("SELECT holder FROM rate_shares WHERE budget_key = $1", key)
    assert [r["holder"] for r in holders] == ["new"]   # the dead row was cleaned up


async def test_shares_turned_off_always_take_grants(db):
    budget = PostgresRateBudget(db, budget_key("APPKEY-OFF", "real"), limit_per_second=20,
                                share_pool=0)
    for _ in range(5):
        await budget.acquire()
        await asyncio.sleep(0.05)
    assert budget.share is None
    assert budget.round_trips == 5
    assert await db.pool.fetchval("SELECT count(*) FROM rate_shares") == 0


async def test_share_asked_while_grants_fill_the_window_starts_when_they_age_out(db):
    """Per-call grants keeping the window full cannot starve a share: it counts at once (no
    new grant takes its room) and starts when enough of the grants have aged out."""
    key = budget_key("APPKEY-FULL", "real")
    assert await _grant(db, key, limit=4, want=4) == 4
    row = await db.pool.fetchrow(
        "SELECT * FROM tf_rate_share($1, 'late', 4, $2, 2, 5.0, 4)", key, WINDOW)
    assert row["granted"] == 2
    oldest_age = await db.pool.fetchval(
        "SELECT extract(epoch FROM clock_timestamp() - min(granted_at))::float8 FROM rate_grants "
        "WHERE budget_key = $1", key)
    assert WINDOW - oldest_age - 0.05 <= row["starts_in"] <= WINDOW
    assert row["valid_for"] == row["starts_in"] + 5.0
    assert await _grant(db, key, limit=4, want=1) < 0          # its room is already held


async def _hold_window(db: Database, key: str, *, aging_in: float, aging: int,
                       held: int) -> float:
    """Fill the window: ``aging`` grants that age out together in ``aging_in`` s and ``held``
    that stay in it for 3 s more (dated ahead), as a busy fleet's orders would keep it full.
    Returns the local monotonic time at which the aging ones are out."""
    before = time.monotonic()
    await db.pool.execute(
        "WITH t AS (SELECT clock_timestamp() AS now) "
        "INSERT INTO rate_grants (budget_key, granted_at) "
        "SELECT $1, now - make_interval(secs => $2::float8 - $3::float8) "
        "FROM t, generate_series(1, $4) "
        "UNION ALL SELECT $1, now + interval '3 seconds' FROM t, generate_series(1, $5)",
        key, WINDOW, aging_in, aging, held)
    return before + aging_in


async def test_share_that_starts_while_a_call_waits_for_a_grant_is_spent(db, pg_dsn):
    """A read waiting for a grant in a full window takes its share the moment the share
    starts (when the aging grants are out), not after the window's grants all age out.

    Made deterministic: the budget's pool has one connection, so the read's first grant
    answer (wait for the aging grants) is judged before the share's lease is even asked,
    and the lease, asked next, starts when the aging grants are out. The test then holds the
    budget's lock across that moment, so the read's next grant answer comes well after the
    share has started, whatever the machine's load."""
    key = budget_key("APPKEY-WAITING", "real")
    # limit 5: reads get 4, the share pool 2; 5 places held, 2 of them aging out together
    aging_out = await _hold_window(db, key, aging_in=0.6, aging=2, held=3)
    async with budgets_apart(pg_dsn, key, 1, limit=5, max_size=1) as (budget,):
        reading = asyncio.create_task(budget.acquire())
        await asyncio.sleep(max(0.0, aging_out - 0.25 - time.monotonic()))
        assert budget.share is not None and budget.share.renewals == 1   # the lease is in
        async with db.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                              "tf_rate:" + key)
            await asyncio.sleep(max(0.0, aging_out + 0.15 - time.monotonic()))
        await asyncio.wait_for(reading, 10)
        assert budget.share.sends == 1

