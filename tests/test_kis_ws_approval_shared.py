"""The WebSocket approval key is shared per appkey exactly as the REST token is: through the
same Postgres token store, under its own scope, so N processes of an account ask
``/oauth2/Approval`` once and the REST token of the same appkey is left alone. Two
databases connections stand for two processes; the simulator counts the issuances."""

from __future__ import annotations

import asyncio

from tests.feed_env import APPKEY, SECRET, Received, feed_env, running

from tradefleet.adapters.kis.auth import Credentials, KisTokenIssuer
from tradefleet.adapters.kis.ws_approval import KisApprovalIssuer, shared_approval_keys
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.token_store import SharedTokenProvider


async def test_processes_of_one_appkey_share_one_approval_key_beside_the_rest_token(pg_dsn):
    async with feed_env() as env:
        cred = Credentials(env.base_url, APPKEY, SECRET)
        dbs = [await Database.connect(pg_dsn, min_size=1, max_size=3) for _ in range(4)]
        try:
            approvals = [shared_approval_keys(db, appkey=APPKEY, mode="real",
                                              issuer=KisApprovalIssuer(env.http, cred))
                         for db in dbs]
            tokens = [SharedTokenProvider(db, appkey=APPKEY, mode="real",
                                          issue=KisTokenIssuer(env.http, cred)) for db in dbs]
            keys = await asyncio.gather(*(a.get() for a in approvals))
            rest = await asyncio.gather(*(t.get() for t in tokens))
            assert len(set(keys)) == 1 and env.approvals_issued == 1
            assert len(set(rest)) == 1 and set(rest) != set(keys)
            assert await approvals[0].get() == keys[0]       # the token did not replace it
            # the shared key opens the feed of the simulator
            got = Received()
            feed = KisRealtimeFeed(env.http, env.ws_url, approvals[1], got,
                                   on_state=got.state)
            async with running(feed):
                await feed.subscribe("H0STCNT0", env.market.symbols()[0])
                await got.until(lambda: feed.state == "live")
            assert env.approvals_issued == 1
        finally:
            for db in dbs:
                await db.close()
