"""A shrinking share keeps counted only the places its holder may still occupy (issue 20).

Found in a 20-worker run: the fleet's shares shrank as its workers went quiet, each stayed
counted at its old size for a ttl and a window (15 places counted, 7 live), and an order
waited up to 0.6 s for a place while the broker saw about a quarter of its limit. Migration
0018 and ``LeasedShare``: a shrinking holder spends no more than its ask from the moment it
asks, and says how many places it still has in its window; only those stay counted."""

from __future__ import annotations

import asyncio

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_budget import budget_key
from tradefleet.adapters.postgres.rate_share import LeasedShare

WINDOW = 1.1


async def _share(db: Database, key: str, holder: str, *, limit: int, want: int,
                 keep_at_most: int | None) -> int:
    return await db.pool.fetchval(
        "SELECT granted FROM tf_rate_share($1, $2, $3, $4, $5, 5.0, $3, $6)",
        key, holder, limit, WINDOW, want, keep_at_most)


async def _grant(db: Database, key: str, *, limit: int, want: int) -> float:
    return await db.pool.fetchval("SELECT tf_rate_acquire_batch($1, $2, $3, $4)",
                                  key, limit, WINDOW, want)


async def test_a_shrunk_share_stays_counted_only_up_to_the_places_its_holder_keeps(db):
    key = budget_key("APPKEY-SHRINK-KEPT", "real")
    limit = 10
    assert await _share(db, key, "a", limit=limit, want=6, keep_at_most=None) == 6
    assert await _share(db, key, "a", limit=limit, want=1, keep_at_most=2) == 1
    # counted: max(the new share 1, the 2 places kept of the old 6): 8 left for grants
    assert await _grant(db, key, limit=limit, want=limit) == limit - 2
    assert await _share(db, key, "a", limit=limit, want=0, keep_at_most=0) == 0
    assert await _grant(db, key, limit=limit, want=limit) == 2       # the share's 2 freed


async def test_a_shrinking_holder_spends_no_more_than_its_ask_until_answered(db):
    """The renewal is held on the budget's advisory lock (a counted wait, no timing): while
    it is unanswered the holder spends nothing past its ask; the database then counts the
    places the holder still had (4 in flight), not the old share (5), nor only the ask (2)."""
    key = budget_key("APPKEY-SHRINK-CAP", "real")
    limit, ttl = 10, 4.0
    share = LeasedShare(db, key, limit=limit, window=WINDOW, pool=limit, max_share=5,
                        ttl=ttl, min_renew_interval=0.1, renew_delay=0.0)
    await share._renew(5, None)                     # a busy holder's share
    assert share.share == 5
    assert [share.try_spend(hold=True) for _ in range(3)] == [True] * 3   # 3 in flight
    await asyncio.sleep(ttl / 2 + 0.1)              # the lease is due for renewal
    assert share.share == 5                         # still valid for ~ttl/2
    blocker = await db.pool.acquire()
    try:
        await blocker.execute("SELECT pg_advisory_lock(hashtextextended('tf_rate:' || $1, 0))",
                              key)
        assert share.try_spend(hold=True)           # the 4th place; asks to shrink to 2
        renewal = share._renewal
        assert renewal is not None
        spent = [share.try_spend(hold=True) for _ in range(5)]
        for _ in range(3000):                       # the renewal comes to wait on the lock
            if await db.pool.fetchval("SELECT count(*) FROM pg_locks "
                                      "WHERE locktype = 'advisory' AND NOT granted"):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the renewal never asked the database")
        spent += [share.try_spend(hold=True) for _ in range(5)]
        assert not any(spent)                       # 4 held >= the ask of 2: nothing more
        await blocker.execute(
            "SELECT pg_advisory_unlock(hashtextextended('tf_rate:' || $1, 0))", key)
    finally:
        await db.pool.release(blocker)
    await renewal
    assert share.share == 2
    row = await db.pool.fetchrow(
        "SELECT share, past_share, tf_rate_share_counted(r, clock_timestamp(), $2) AS counted "
        "FROM rate_shares r WHERE budget_key = $1", key, WINDOW)
    assert (row["share"], row["past_share"], row["counted"]) == (2, 4, 4)
    await share._renew(5, None)                     # busy again: the answer lifts the cap
    assert share.try_spend(hold=True)               # a 5th place
    assert await _grant(db, key, limit=limit, want=limit) == limit - 5
    for _ in range(5):
        share.answered()
    await share.release()
