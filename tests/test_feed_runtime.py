"""The feed beside the worker (issue 20): a failing part of the feed is said, retried and
never raised into the worker; leaving the context stops everything at once."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

from tradefleet.domain.exits import ExitParams
from tradefleet.domain.lease import Lease
from tradefleet.feed.listener import PostgresTickListener
from tradefleet.settings.feed import FeedSettings
from tradefleet.worker import feed_runtime
from tradefleet.worker.feed_runtime import FeedParts, WorkerFeed


async def test_a_feed_that_cannot_listen_is_retried_and_never_stops_the_worker(
        logs, monkeypatch):
    monkeypatch.setattr(feed_runtime, "RESTART_MIN_S", 0.01)
    attempts = []

    async def unreachable():  # noqa: ANN202 - the database refuses the listener
        attempts.append(1)
        raise OSError("connection refused")

    modes: list[bool] = []
    parts = FeedParts(holder=None,
                      new_listener=lambda: PostgresTickListener(unreachable, "acct"),
                      broker=None, exits=ExitParams(Decimal(1), Decimal(1), 5, 0), clock=None,  # type: ignore[arg-type]
                      on_mode=modes.append)
    # the worker as the feed sees it: its id, its lease, and no cycle yet
    worker = SimpleNamespace(config=SimpleNamespace(worker_id="w1"), cycle=None,
                             lease=Lease(30))
    feed = WorkerFeed(FeedSettings(), parts, worker)  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        async with feed.running():
            while len(attempts) < 3:
                await asyncio.sleep(0.01)
    assert feed.failures["listener"] >= 2
    assert modes and not any(modes)           # said: exits on the poll
    said = [r for r in logs.records if str(r.get("event", "")).startswith("feed part failed")]
    assert said and said[0]["part"] == "listener" and said[0]["error_type"] == "OSError"
    assert any(r.get("event") == "feed stopped with the worker" for r in logs.records)
