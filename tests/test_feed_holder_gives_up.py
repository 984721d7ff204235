"""A holder that cannot reach the broker's WebSocket does not keep the account's feed
(issue 20): after ``give_up_s`` without a live feed it releases the lease and sits out, a
candidate that can connect takes it, and meanwhile the workers are told the feed is not
live (they poll). Real PostgreSQL, the simulator's real WebSocket for the good candidate,
a refused port for the bad one."""

from __future__ import annotations

import socket

from tests.feed_env import feed_env
from tests.feed_holder_env import ACCOUNT, holder, listening, running_holder, until

from tradefleet.adapters.kis.ws_approval import in_process_approval_keys
from tradefleet.adapters.kis.ws_backoff import Backoff
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed
from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore
from tradefleet.feed.holder import FeedHolder
from tradefleet.ports.feed import FeedState


def refused_url() -> str:
    """A local port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


def cut_off_holder(db, env, holder_id: str, **kw) -> FeedHolder:
    approvals = in_process_approval_keys(env.issuer)
    url = refused_url()

    def open_feed(on_event, on_state) -> KisRealtimeFeed:  # noqa: ANN001
        return KisRealtimeFeed(env.http, url, approvals, on_event, on_state=on_state,
                               backoff=Backoff(base=0.05, cap=0.2, stable_after=60))

    async def want() -> set[str]:
        return set()

    return FeedHolder(PostgresFeedLeaseStore(db), account_key=ACCOUNT, holder_id=holder_id,
                      open_feed=open_feed, wanted=want, ttl_s=30.0, renew_s=0.2, retry_s=0.2,
                      **kw)


async def test_a_holder_that_cannot_connect_gives_the_feed_to_one_that_can(db, pg_dsn):
    """The cut-off holder's lease would last 30 s: the good one wins it well before, so the
    cut-off one released it (a lease merely left to lapse would outlast the wait)."""
    async with feed_env() as env, listening(pg_dsn, stale_after_s=1.0) as listener:
        bad = cut_off_holder(db, env, "holder-cut-off", give_up_s=1.0)
        good = holder(db, env, "holder-good", set())
        seen: set[FeedState] = set()

        def good_elected() -> bool:
            if not good.elected.is_set():
                seen.add(listener.state()[0])      # what workers hear meanwhile
            return good.elected.is_set()

        async with running_holder(bad):
            await bad.elected.wait()
            async with running_holder(good):         # stands while the bad one holds
                await until(good_elected, timeout=12.0)
                assert bad.gave_up >= 1
                await until(lambda: listener.state()[0] is FeedState.LIVE, timeout=5.0)
                store = PostgresFeedLeaseStore(db)
                assert (await store.holder(ACCOUNT))[0] == "holder-good"
        assert seen and FeedState.LIVE not in seen, seen       # they polled meanwhile
