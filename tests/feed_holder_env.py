"""A feed holder and a worker-side listener over the test's real PostgreSQL and the
simulator's real WebSocket feed (tests/feed_env.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
from tests.feed_env import FeedEnv

from tradefleet.adapters.kis.ws_approval import in_process_approval_keys
from tradefleet.adapters.kis.ws_backoff import Backoff
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore
from tradefleet.feed.holder import FeedHolder
from tradefleet.feed.listener import PostgresTickListener
from tradefleet.ports.feed import PriceTick

ACCOUNT = "acct-test-0001"


def holder(db: Database, env: FeedEnv, holder_id: str, wanted: set[str] | None, *,
           account: str = ACCOUNT, **kw) -> FeedHolder:
    """``wanted``: the symbols to register; None: what the fleet holds (its locks)."""
    approvals = in_process_approval_keys(env.issuer)

    def open_feed(on_event, on_state) -> KisRealtimeFeed:  # noqa: ANN001
        return KisRealtimeFeed(env.http, env.ws_url, approvals, on_event, on_state=on_state,
                               backoff=Backoff(base=0.05, cap=0.2, stable_after=60))

    store = PostgresFeedLeaseStore(db)

    async def want() -> set[str]:
        return set(wanted) if wanted is not None else await store.held_symbols()

    kw.setdefault("ttl_s", 1.5)
    kw.setdefault("renew_s", 0.2)
    kw.setdefault("retry_s", 0.2)
    return FeedHolder(store, account_key=account, holder_id=holder_id,
                      open_feed=open_feed, wanted=want, **kw)


@contextlib.asynccontextmanager
async def listening(pg_dsn: str, **kw) -> AsyncIterator[PostgresTickListener]:
    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(pg_dsn)

    listener = PostgresTickListener(connect, ACCOUNT, **kw)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.close()


@contextlib.asynccontextmanager
async def running_holder(h: FeedHolder) -> AsyncIterator[asyncio.Task]:
    task = asyncio.create_task(h.run())
    try:
        yield task
    finally:
        h.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(cond: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> float:
    """Seconds until ``cond()`` held (TimeoutError past ``timeout``)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(step)
    return loop.time() - start


class Heard(list):
    """Ticks delivered to a watch, in order."""

    def __call__(self, tick: PriceTick) -> None:
        self.append(tick)
