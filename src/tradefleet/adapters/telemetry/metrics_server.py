"""A bare ``GET /metrics`` HTTP server (aiohttp, on the process's event loop) for a process
with no other HTTP endpoint of ours: the operator. Port 0 turns it off."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from tradefleet.adapters.telemetry.metrics import CONTENT_TYPE


async def start_metrics_server(render: Callable[[], bytes], port: int,
                               host: str = "0.0.0.0",  # noqa: S104 - Prometheus scrapes in
                               ) -> web.AppRunner | None:
    if port == 0:
        return None

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
