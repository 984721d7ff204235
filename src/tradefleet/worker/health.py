"""HTTP probes for orchestrators: ``/healthz`` (liveness: the heartbeat succeeded recently,
so the process and its database link work) and ``/readyz`` (started, not fenced, trading
state SCAN or HOLD); ``/metrics`` (Prometheus text) when the worker has a metrics page.
Port 0 turns the server off."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from tradefleet.adapters.telemetry.metrics import CONTENT_TYPE


@dataclass
class HealthState:
    heartbeat_interval_seconds: float
    last_beat: float | None = None              # time.monotonic() of the last good beat
    status: str = "IDLE"
    fenced: bool = False
    started: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def alive(self) -> bool:
        """A beat within three intervals (the first one gets the same grace from start)."""
        since = self.last_beat if self.last_beat is not None else self.started
        return not self.fenced and time.monotonic() - since <= 3 * self.heartbeat_interval_seconds

    def ready(self) -> bool:
        return self.alive() and self.status in ("SCAN", "HOLD")


async def start_health_server(state: HealthState, port: int,
                              host: str = "0.0.0.0",  # noqa: S104 - probes come from outside
                              *, metrics: Callable[[str], Awaitable[bytes]] | None = None,
                              ) -> web.AppRunner | None:
    """``metrics(status)``: the Prometheus page for the worker in ``status``."""
    if port == 0:
        return None

    async def healthz(_request: web.Request) -> web.Response:
        ok = state.alive()
        return web.json_response({"alive": ok}, status=200 if ok else 503)

    async def readyz(_request: web.Request) -> web.Response:
        ok = state.ready()
        return web.json_response({"ready": ok, "status": state.status},
                                 status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics is not None:
        async def metrics_page(_request: web.Request) -> web.Response:
            body = await metrics(state.status)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

        app.router.add_get("/metrics", metrics_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
