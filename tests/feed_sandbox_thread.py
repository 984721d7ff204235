"""The exchange simulator's REST apps and their WebSocket feeds, served from their own thread
for a synchronous third-party client (python-kis uses ``requests`` and ``websocket-client``),
over one simulated market, as KIS serves each domain's REST API and WebSocket apart. For
paper, a real-domain pair beside the paper one (paper clients take quotations and prices
from the real domain, their account and its notices from the paper one)."""

from __future__ import annotations

from aiohttp import web
from tests.server_thread import ServerThread

from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import build_app, exchange_of
from tradefleet.adapters.sim.exchange.approval import APPROVALS, ApprovalKeys
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.sim.exchange.ws_server import FeedConfig, FeedServer, build_feed_app


class FeedSandboxThread(ServerThread):
    """``with FeedSandboxThread(market, [(config, feed), ...]) as sb:`` serves
    ``sb.urls[mode]`` (REST) and ``sb.ws_urls[mode]`` (its feed, ``sb.feeds[mode]``)."""

    def __init__(self, market: SimMarket, pairs: list[tuple[ExchangeConfig, FeedConfig]]
                 ) -> None:
        self.market = market
        self._pairs = pairs
        self.feeds: dict[str, FeedServer] = {}
        self.urls: dict[str, str] = {}
        self.ws_urls: dict[str, str] = {}
        super().__init__("feed-sandbox")

    async def _serve(self) -> None:
        assert self._stop is not None
        runners: list[web.AppRunner] = []

        async def serve(app: web.Application) -> str:
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            return f"127.0.0.1:{runner.addresses[0][1]}"

        try:
            approvals = ApprovalKeys()           # one KIS auth behind both domains
            for config, feed in self._pairs:
                app = build_app(self.market, config, approvals=approvals)
                server = FeedServer(self.market, app[APPROVALS], exchange_of(app), feed)
                self.feeds[config.mode] = server
                self.urls[config.mode] = "http://" + await serve(app)
                self.ws_urls[config.mode] = "ws://" + await serve(build_feed_app(server))
            self._ready.set()
            await self._stop.wait()
        finally:
            for server in self.feeds.values():
                await server.close_all()
            for runner in reversed(runners):
                await runner.cleanup()
