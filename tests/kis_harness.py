"""Shared setup for the KIS adapter tests: a SimMarket on a frozen clock, the KIS-dialect
simulator served on a free 127.0.0.1 port, and a ``KisBroker`` talking real HTTP to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import aiohttp
from aiohttp import web

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.kis.auth import (
    Credentials,
    InProcessTokenProvider,
    KisTokenIssuer,
    SlidingWindowRateLimiter,
)
from tradefleet.adapters.kis.broker import KisBroker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import gateway_of, running_exchange
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig, Gateway

DAY = date(2026, 11, 24)
APPKEY = "PSTESTAPPKEY000000000000000000000000"
APPSECRET = "test-secret-not-real"


@dataclass
class Rig:
    market: SimMarket
    clock: FrozenClock
    base_url: str
    app: web.Application
    session: aiohttp.ClientSession
    broker: KisBroker
    tokens: InProcessTokenProvider
    config: KisConfig

    @property
    def gateway(self) -> Gateway:
        return gateway_of(self.app)

    async def admin(self, method: str, path: str, json: object | None = None) -> object:
        async with self.session.request(method, self.base_url + "/_admin/" + path,
                                        json=json) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


@contextlib.asynccontextmanager
async def rig(*, mode: str = "real", at: time = time(10, 0), n_symbols: int = 40,
              exchange: ExchangeConfig | None = None, client_rate: int | None = None,
              timeout_seconds: float = 2.0, rate_budget_seconds: float = 3.0,
              seed: int = 7) -> AsyncIterator[Rig]:
    clock = FrozenClock(datetime.combine(DAY, at, tzinfo=SEOUL))
    market = SimMarket(seed, n_symbols=n_symbols, clock=clock)
    xcfg = exchange or ExchangeConfig(mode=mode)
    async with running_exchange(market, xcfg) as (base_url, app), \
            aiohttp.ClientSession() as session:
        cfg = KisConfig(base_url=base_url, appkey=APPKEY, appsecret=APPSECRET,
                        cano="12345678", product_code="01", mode=mode,
                        timeout_seconds=timeout_seconds,
                        rate_limit_budget_seconds=rate_budget_seconds)
        tokens = InProcessTokenProvider(
            KisTokenIssuer(session, Credentials(base_url, APPKEY, APPSECRET)),
            refresh_margin=timedelta(minutes=10))
        limiter = SlidingWindowRateLimiter(client_rate or (20 if mode == "real" else 2))
        broker = KisBroker(cfg, session, tokens, limiter, clock=clock)
        yield Rig(market, clock, base_url, app, session, broker, tokens, cfg)


async def arm(r: Rig, **rule: object) -> int:
    """Arm one fault rule on the simulator's admin API; its id."""
    body = await r.admin("POST", "faults", rule)
    assert isinstance(body, dict) and body["ok"] is True
    return int(body["id"])


async def rules(r: Rig) -> dict[int, dict]:
    """The simulator's armed fault rules by id (with their fired counts)."""
    body = await r.admin("GET", "faults")
    assert isinstance(body, dict)
    return {rule["id"]: rule for rule in body["rules"]}
