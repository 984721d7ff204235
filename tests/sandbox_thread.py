"""The exchange simulator served from its own thread for a synchronous third-party client
(python-kis uses ``requests``), as KIS serves it: a real-domain app, and for paper mode a
paper-domain app beside it over the SAME simulated market (a paper client asks the real
domain for quotations and the paper one for its account, as at KIS)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import build_app
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig


class SandboxThread:
    """``with SandboxThread(market, configs) as sb:`` serves ``sb.urls[mode]`` per config."""

    def __init__(self, market: SimMarket, configs: list[ExchangeConfig]) -> None:
        self.market = market
        self._configs = configs
        self.apps: dict[str, web.Application] = {}
        self.urls: dict[str, str] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)

    def __enter__(self) -> SandboxThread:
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise RuntimeError(f"sandbox did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
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
