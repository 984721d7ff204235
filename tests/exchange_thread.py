"""The KIS-dialect exchange simulator served from its own thread and event loop, so that
worker processes (and the test's own loop) can hammer it over real HTTP on 127.0.0.1, with an
outermost middleware that records every arrival: per path, and its monotonic time, before the
gateway admits or refuses it. The gateway's own counters (tokens, EGW00201) come alongside."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, datetime
from datetime import time as dtime

from aiohttp import web
from tests.server_thread import ServerThread

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import build_app, gateway_of
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.ports.clock import Clock

DAY = date(2026, 11, 24)
PREFIX = "/uapi/domestic-stock/v1/"


class ExchangeThread(ServerThread):
    """``with ExchangeThread(...) as ex:`` serves on ``ex.base_url`` until the block ends."""

    def __init__(self, *, mode: str = "real", n_symbols: int = 40, seed: int = 7,
                 at: dtime = dtime(10, 0), clock: Clock | None = None) -> None:
        self.clock = clock or FrozenClock(datetime.combine(DAY, at, tzinfo=SEOUL))
        self.market = SimMarket(seed, n_symbols=n_symbols, clock=self.clock)
        self._config = ExchangeConfig(mode=mode)
        self._mutex = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._arrivals: list[float] = []
        self._app: web.Application | None = None
        self.base_url = ""
        super().__init__("exchange")

    # ---- lifecycle ---------------------------------------------------------------------
    async def _serve(self) -> None:
        assert self._stop is not None
        app = build_app(self.market, self._config)
        app.middlewares.insert(0, self._record)    # outermost: sees refused requests too
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self._app = app
        self.base_url = f"http://127.0.0.1:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler):  # noqa: ANN001, ANN201
        if request.path.startswith(PREFIX):
            with self._mutex:
                self._calls[request.path[len(PREFIX):]] += 1
                self._arrivals.append(time.monotonic())
        return await handler(request)

    # ---- what the exchange saw -----------------------------------------------------------
    def calls(self, path: str | None = None) -> int:
        """Arrivals on one API path (e.g. ``quotations/intstock-multprice``), or on all."""
        with self._mutex:
            return self._calls[path] if path else sum(self._calls.values())

    def max_in_any_second(self) -> int:
        """The most arrivals in any sliding one-second window (how KIS measures)."""
        with self._mutex:
            stamps = list(self._arrivals)
        return max_in_any_second(stamps)

    def gateway_counters(self) -> dict:
        assert self._app is not None
        return gateway_of(self._app).counters()

    def reset(self) -> None:
        with self._mutex:
            self._calls.clear()
            self._arrivals.clear()


def max_in_any_second(stamps: list[float]) -> int:
    """The most events in any sliding one-second window (how KIS measures its limit)."""
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
