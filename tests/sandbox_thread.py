"""The exchange simulator served from its own thread for a synchronous third-party client
(python-kis uses ``requests``), as KIS serves it: a real-domain app, and for paper mode a
paper-domain app beside it over the SAME simulated market (a paper client asks the real
domain for quotations and the paper one for its account, as at KIS)."""

from __future__ import annotations

from aiohttp import web
from tests.server_thread import ServerThread

from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import build_app
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig


class SandboxThread(ServerThread):
    """``with SandboxThread(market, configs) as sb:`` serves ``sb.urls[mode]`` per config."""

    def __init__(self, market: SimMarket, configs: list[ExchangeConfig]) -> None:
        self.market = market
        self._configs = configs
        self.apps: dict[str, web.Application] = {}
        self.urls: dict[str, str] = {}
        super().__init__("sandbox")

    async def _serve(self) -> None:
        assert self._stop is not None
        runners = []
        try:
            for config in self._configs:
                app = build_app(self.market, config)
                runner = web.AppRunner(app, handle_signals=False, access_log=None)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                runners.append(runner)
                self.apps[config.mode] = app
                self.urls[config.mode] = f"http://127.0.0.1:{runner.addresses[0][1]}"
            self._ready.set()
            await self._stop.wait()
        finally:
            for runner in runners:
                await runner.cleanup()
