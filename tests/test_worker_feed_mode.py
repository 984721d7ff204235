"""The worker's word on its feed (live / polling) reaches its row, on change only, and the
operator's read model shows it (issue 20). Real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date

from tests.feed_holder_env import until

from tradefleet.adapters.postgres.fleet_status_store import PostgresFleetStatusStore
from tradefleet.adapters.postgres.worker_feed_mode import PostgresFeedModeStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.worker import feed_mode
from tradefleet.worker.feed_mode import FeedModeReport

DAY = date(2026, 11, 24)


async def test_the_row_says_what_the_worker_said_written_only_on_change(db):
    await PostgresWorkerStore(db).register("w-1", pid=1, host="h", mode="sim",
                                           lock_ttl_seconds=30)
    store, seen = PostgresFeedModeStore(db), PostgresFleetStatusStore(db)
    report = FeedModeReport(store.write, "w-1")
    for live in (False, False, True, True, True, False):
        report(live)
        await until(lambda: report._task is None or report._task.done())
    assert report.writes == 3                        # polling, live, polling
    assert (await seen.worker_state("w-1", DAY)).feed_mode == "polling"
    report(True)
    await until(lambda: report.writes == 4)
    assert (await seen.worker_state("w-1", DAY)).feed_mode == "live"
    # a new life of the worker clears it until the worker says again
    await PostgresWorkerStore(db).register("w-1", pid=2, host="h", mode="sim",
                                           lock_ttl_seconds=30)
    assert (await seen.worker_state("w-1", DAY)).feed_mode is None
    report.forget()
    report(True)
    await until(lambda: report.writes == 5)
    assert (await seen.worker_state("w-1", DAY)).feed_mode == "live"


async def test_a_failed_write_is_tried_again(db, monkeypatch):
    await PostgresWorkerStore(db).register("w-1", pid=1, host="h", mode="sim",
                                           lock_ttl_seconds=30)
    monkeypatch.setattr(feed_mode, "RETRIES_S", (0.01, 0.01))
    store = PostgresFeedModeStore(db)
    failures = [1]

    async def flaky(worker_id: str, live: bool) -> None:
        if failures:
            failures.pop()
            raise ConnectionError("database restarting")
        await store.write(worker_id, live)

    report = FeedModeReport(flaky, "w-1")
    report(True)
    await until(lambda: report.writes == 1)
    await asyncio.sleep(0.05)
    assert await db.pool.fetchval("SELECT feed_mode FROM workers") == "live"
