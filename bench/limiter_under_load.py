"""Client rate limiter against the KIS simulator on a busy machine.
Run: python3 bench/limiter_under_load.py [runs] [busy_loops]   (defaults 20 and 2 x cores)

Each run sends 45 reads at once through one ``KisBroker`` (limit 20/s, as the flaky test
``test_client_limiter_keeps_under_the_real_budget``) to the simulator served in the same
event loop, while ``busy_loops`` processes spin on the CPU. Twice: with the limiter counting
a request from its grant (the old way) and until its answer (``SlidingWindowRateLimiter.
slot``). Prints, per way, how many runs met EGW00201, the peak arrivals the simulator saw in
any sliding second, and the largest lag between the k-th grant and the k-th arrival (the
scheduling jitter the old 0.1 s margin had to cover)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import sys
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.exchange_thread import DAY, max_in_any_second  # noqa: E402

from tradefleet.adapters.clock import SEOUL, FrozenClock  # noqa: E402
from tradefleet.adapters.kis.auth import (  # noqa: E402
    Credentials,
    InProcessTokenProvider,
    KisTokenIssuer,
    SlidingWindowRateLimiter,
)
from tradefleet.adapters.kis.broker import KisBroker  # noqa: E402
from tradefleet.adapters.kis.client import KisConfig  # noqa: E402
from tradefleet.adapters.sim.engine import SimMarket  # noqa: E402
from tradefleet.adapters.sim.exchange.app import build_app, gateway_of  # noqa: E402

APPKEY, APPSECRET = "PSBENCHAPPKEY000000000000000000000000", "bench-secret"
CALLS, LIMIT = 45, 20


def _spin(until: float) -> None:
    n = 0
    while time.time() < until:
        n += 1


class _FromGrant:
    """Counts from the grant only: the client cannot tell it when the answer came."""

    def __init__(self, grants: list[float]) -> None:
        self._inner = SlidingWindowRateLimiter(LIMIT)
        self._grants = grants

    async def acquire(self, *, order: bool = False) -> None:
        await self._inner.acquire(order=order)
        self._grants.append(time.monotonic())


class _UntilAnswer(SlidingWindowRateLimiter):
    def __init__(self, grants: list[float]) -> None:
        super().__init__(LIMIT)
        self._grants = grants

    @contextlib.asynccontextmanager
    async def slot(self, *, order: bool = False):  # noqa: ANN201
        async with super().slot(order=order):
            self._grants.append(time.monotonic())
            yield


async def _one_run(way: type) -> tuple[int, int, float, float]:
    clock = FrozenClock(datetime.combine(DAY, dtime(10, 0), tzinfo=SEOUL))
    market = SimMarket(7, n_symbols=10, clock=clock)
    app = build_app(market)
    arrivals: list[float] = []

    @web.middleware
    async def record(request: web.Request, handler):  # noqa: ANN001, ANN202
        if request.path.startswith("/uapi"):
            arrivals.append(time.monotonic())
        return await handler(request)

    app.middlewares.insert(0, record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    grants: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            cfg = KisConfig(base_url=url, appkey=APPKEY, appsecret=APPSECRET, cano="12345678",
                            timeout_seconds=5.0)
            tokens = InProcessTokenProvider(KisTokenIssuer(session,
                                                           Credentials(url, APPKEY, APPSECRET)))
            broker = KisBroker(cfg, session, tokens, way(grants), clock=clock)
            await broker.authenticate()
            symbols = market.symbols()
            started = time.monotonic()
            await asyncio.gather(*(broker.get_buyable_qty(symbols[n % 10], None)
                                   for n in range(CALLS)))
            elapsed = time.monotonic() - started
        refused = int(gateway_of(app).counters()["rate_limited"])
    finally:
        await runner.cleanup()
    lag = max(a - g for g, a in zip(sorted(grants), sorted(arrivals), strict=False))
    return refused, max_in_any_second(arrivals), lag, elapsed


async def _bench(runs: int) -> None:
    base = None
    for name, way in (("from the grant (old)", _FromGrant), ("until the answer", _UntilAnswer)):
        results = [await _one_run(way) for _ in range(runs)]
        bad = sum(1 for r in results if r[0])
        peak = max(r[1] for r in results)
        lag = max(r[2] for r in results)
        took = sum(r[3] for r in results) / runs
        base = base or took
        print(f"{name:22s}: {bad}/{runs} runs met EGW00201; peak {peak} arrivals in a "
              f"sliding second (limit {LIMIT}); max grant->arrival lag {lag * 1000:.0f} ms; "
              f"{CALLS} calls took {took:.2f} s on average ({took / base:.2f}x the old way)")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    loops = int(sys.argv[2]) if len(sys.argv) > 2 else 2 * mp.cpu_count()
    until = time.time() + 3600
    spinners = [mp.Process(target=_spin, args=(until,), daemon=True) for _ in range(loops)]
    for p in spinners:
        p.start()
    print(f"{loops} busy loops on {mp.cpu_count()} cores, {runs} runs per way")
    try:
        asyncio.run(_bench(runs))
    finally:
        for p in spinners:
            p.terminate()
            p.join()


if __name__ == "__main__":
    main()
