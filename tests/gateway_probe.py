"""``ExchangeThread`` with a chosen ``ExchangeConfig`` and two probes in front of the gateway
(nothing of the simulator is patched; EGW00201 comes from its rate window or its
``rate_limit`` fault rules):

- every order POST body is kept, to show that a resend is the same request;
- ``delay_first_arrivals(n, seconds)``: the next ``n`` /uapi requests reach the gateway only
  ``seconds`` after they were read, as on a machine too busy to serve them at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from tests.exchange_thread import PREFIX, ExchangeThread
from tests.kis_harness import APPKEY, APPSECRET

from tradefleet.adapters.kis.auth import (
    Credentials,
    InProcessTokenProvider,
    KisTokenIssuer,
    SlidingWindowRateLimiter,
)
from tradefleet.adapters.kis.broker import KisBroker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig

CASH, RVSE = "trading/order-cash", "trading/order-rvsecncl"
ORDER_PATHS = (CASH, RVSE)


class GatewayProbe(ExchangeThread):
    def __init__(self, config: ExchangeConfig, *, n_symbols: int = 40) -> None:
        super().__init__(mode=config.mode, n_symbols=n_symbols)
        self._config = config
        self.order_bodies: list[tuple[str, dict]] = []
        self._delay_left = 0
        self._delay = 0.0

    def delay_first_arrivals(self, n: int, seconds: float) -> None:
        with self._mutex:
            self._delay_left, self._delay = n, seconds

    def rate_limited(self) -> int:
        """EGW00201 answers of the gateway's rate window."""
        return int(self.gateway_counters()["rate_limited"])

    @web.middleware
    async def _record(self, request: web.Request, handler):  # noqa: ANN001, ANN201
        path = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else ""
        with self._mutex:
            delay = self._delay if path and self._delay_left > 0 else 0.0
            if delay:
                self._delay_left -= 1
        if delay:
            await asyncio.sleep(delay)
        if path in ORDER_PATHS:
            body = await request.json()
            with self._mutex:
                self.order_bodies.append((path, body))
        return await super()._record(request, handler)

    def bodies(self, path: str) -> list[dict]:
        with self._mutex:
            return [b for p, b in self.order_bodies if p == path]


@dataclass
class Rig:
    ex: GatewayProbe
    broker: KisBroker
    tokens: InProcessTokenProvider
    session: aiohttp.ClientSession

    async def admin(self, method: str, path: str, json: object | None = None) -> object:
        async with self.session.request(method, self.ex.base_url + "/_admin/" + path,
                                        json=json) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def fault(self, **body: object) -> int:
        """Arm a fault rule (``/_admin/faults``); returns its id."""
        answer = await self.admin("POST", "faults", body)
        assert isinstance(answer, dict)
        return int(answer["id"])

    async def fired(self) -> dict[int, int]:
        """How often each armed rule has fired."""
        answer = await self.admin("GET", "faults")
        assert isinstance(answer, dict)
        return {int(rule["id"]): int(rule["fired"]) for rule in answer["rules"]}


@contextlib.asynccontextmanager
async def probed(*, mode: str = "real", exchange: ExchangeConfig | None = None,
                 client_rate: int | None = None, timeout_seconds: float = 2.0,
                 throttle_seconds: float = 60.0, authenticate: bool = True,
                 **limits: object) -> AsyncIterator[Rig]:
    """A ``KisBroker`` (this process's token cache and rate window) over real HTTP to a
    ``GatewayProbe``; ``limits`` go to ``KisConfig`` (e.g. order_rate_limit_retries)."""
    with GatewayProbe(exchange or ExchangeConfig(mode=mode)) as ex:
        async with aiohttp.ClientSession() as session:
            cfg = KisConfig(base_url=ex.base_url, appkey=APPKEY, appsecret=APPSECRET,
                            cano="12345678", mode=ex._config.mode,
                            timeout_seconds=timeout_seconds, **limits)  # type: ignore[arg-type]
            tokens = InProcessTokenProvider(
                KisTokenIssuer(session, Credentials(ex.base_url, APPKEY, APPSECRET)),
                throttle_seconds=throttle_seconds)
            limiter = SlidingWindowRateLimiter(
                client_rate or (20 if cfg.mode == "real" else 2))
            broker = KisBroker(cfg, session, tokens, limiter, clock=ex.clock)
            if authenticate:
                await broker.authenticate()
            yield Rig(ex, broker, tokens, session)
