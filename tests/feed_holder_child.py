"""A feed holder in its own process, to be killed (SIGKILL) or frozen (SIGSTOP) by
tests/test_feed_failover.py and bench/realtime.py. Args: dsn ws_url rest_url account
holder_id ttl_s symbols... (the paths are appended: a PYTHONPATH, e.g. a mutant's copy of
src, comes first)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "src"))
sys.path.append(str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from tests.feed_env import APPKEY, SECRET  # noqa: E402

from tradefleet.adapters.kis.auth import Credentials  # noqa: E402
from tradefleet.adapters.kis.ws_approval import (  # noqa: E402
    KisApprovalIssuer,
    in_process_approval_keys,
)
from tradefleet.adapters.kis.ws_backoff import Backoff  # noqa: E402
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed  # noqa: E402
from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore  # noqa: E402
from tradefleet.feed.holder import FeedHolder  # noqa: E402


async def main(dsn: str, ws_url: str, rest_url: str, account: str, holder_id: str,
               ttl_s: float, symbols: list[str]) -> None:
    db = await Database.connect(dsn, min_size=1, max_size=3)
    async with aiohttp.ClientSession() as http:
        approvals = in_process_approval_keys(
            KisApprovalIssuer(http, Credentials(rest_url, APPKEY, SECRET)))

        def open_feed(on_event, on_state) -> KisRealtimeFeed:  # noqa: ANN001
            return KisRealtimeFeed(http, ws_url, approvals, on_event, on_state=on_state,
                                   backoff=Backoff(base=0.05, cap=0.2, stable_after=60))

        async def wanted() -> set[str]:
            return set(symbols)

        holder = FeedHolder(PostgresFeedLeaseStore(db), account_key=account,
                            holder_id=holder_id, open_feed=open_feed, wanted=wanted,
                            ttl_s=ttl_s, renew_s=ttl_s / 6, retry_s=ttl_s / 6)
        await holder.run()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], a[2], a[3], a[4], float(a[5]), a[6:]))
