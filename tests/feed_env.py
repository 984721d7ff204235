"""The exchange simulator's REST app and its WebSocket feed served in the test's own event
loop over 127.0.0.1, with the KIS adapter's feed client pointed at them by URL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.kis.auth import Credentials
from tradefleet.adapters.kis.ws_approval import KisApprovalIssuer, in_process_approval_keys
from tradefleet.adapters.kis.ws_backoff import Backoff
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed
from tradefleet.adapters.kis.ws_notices import OrderNotice
from tradefleet.adapters.kis.ws_ticks import Tick
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import exchange_of, running_exchange
from tradefleet.adapters.sim.exchange.approval import APPROVALS
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.sim.exchange.ws_server import FeedConfig, FeedServer, running_feed

DAY_10AM = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
APPKEY, SECRET, HTS_ID = "A" * 36, "S" * 180, "htsuser1"


@dataclass
class Received:
    ticks: list[Tick] = field(default_factory=list)
    notices: list[OrderNotice] = field(default_factory=list)
    states: list[tuple[str, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, events: list) -> None:
        for e in events:
            (self.ticks if isinstance(e, Tick) else self.notices).append(e)
        self.changed.set()

    def state(self, state: str, why: str) -> None:
        self.states.append((state, why))
        self.changed.set()

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await self.changed.wait()


@dataclass
class FeedEnv:
    market: SimMarket
    clock: FrozenClock
    base_url: str
    ws_url: str
    server: FeedServer
    http: aiohttp.ClientSession
    issuer: KisApprovalIssuer

    def feed(self, received: Received, **kw) -> KisRealtimeFeed:
        kw.setdefault("backoff", Backoff(base=0.05, cap=0.2, stable_after=60))
        return KisRealtimeFeed(self.http, self.ws_url, in_process_approval_keys(self.issuer),
                               received, on_state=received.state, **kw)

    @property
    def approvals_issued(self) -> int:
        return self.server.approvals.issued[APPKEY]


@contextlib.asynccontextmanager
async def feed_env(*, mode: str = "real", n_symbols: int = 60, **config) -> AsyncIterator[
        FeedEnv]:
    clock = FrozenClock(DAY_10AM)
    market = SimMarket(5, n_symbols=n_symbols, clock=clock)
    async with running_exchange(market, ExchangeConfig(mode=mode)) as (base_url, app):
        server = FeedServer(market, app[APPROVALS], exchange_of(app),
                            FeedConfig(mode=mode, hts_id=HTS_ID, **config))
        async with running_feed(server) as ws_url, aiohttp.ClientSession() as http:
            issuer = KisApprovalIssuer(http, Credentials(base_url, APPKEY, SECRET))
            yield FeedEnv(market, clock, base_url, ws_url, server, http, issuer)


@contextlib.asynccontextmanager
async def running(feed: KisRealtimeFeed) -> AsyncIterator[asyncio.Task]:
    task = asyncio.create_task(feed.run())
    try:
        yield task
    finally:
        await feed.stop()
        async with asyncio.timeout(5):
            await task
