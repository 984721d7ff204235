"""``ExchangeThread`` with a chosen ``ExchangeConfig`` and two probes in front of the gateway:

- every order POST body is kept, to show that a resend is the same request;
- ``fill_window_before_orders = n``: the next ``n`` order POSTs find the appkey's rate window
  full, exactly as if another client of the appkey had just sent its reads (the gateway's own
  ``admit`` is called until it refuses, then the order goes through the gateway as usual);
- ``delay_first_arrivals(n, seconds)``: the next ``n`` /uapi requests reach the gateway only
  ``seconds`` after they were read, as on a machine too busy to serve them at once.

The gateway then answers with its real EGW00201 path; nothing of the simulator is patched."""

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
from tradefleet.adapters.sim.exchange.app import gateway_of
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig

CASH, RVSE = "trading/order-cash", "trading/order-rvsecncl"
ORDER_PATHS = (CASH, RVSE)


class GatewayProbe(ExchangeThread):
    def __init__(self, config: ExchangeConfig, *, n_symbols: int = 40) -> None:
        super().__init__(mode=config.mode, n_symbols=n_symbols)
        self._config = config
        self.order_bodies: list[tuple[str, dict]] = []
        self.fill_window_before_orders = 0
        self.fill_refusals = 0          # the gateway's rate_limited count from filling
        self._delay_left = 0
        self._delay = 0.0

    def delay_first_arrivals(self, n: int, seconds: float) -> None:
        with self._mutex:
            self._delay_left, self._delay = n, seconds

    def rate_limited(self) -> int:
        """EGW00201 answers to real requests (the probe's own filling left out)."""
        return int(self.gateway_counters()["rate_limited"]) - self.fill_refusals

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
                fill = self.fill_window_before_orders > 0
                self.fill_window_before_orders -= 1 if fill else 0
            if fill:
                self._fill_window(request.headers.get("appkey", ""))
        return await super()._record(request, handler)

    def _fill_window(self, appkey: str) -> None:
        assert self._app is not None
        gateway = gateway_of(self._app)
        while gateway.admit(appkey):
            pass
        with self._mutex:
            self.fill_refusals += 1

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

    async def fault(self, **body: object) -> None:
        await self.admin("POST", "faults", body)


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
