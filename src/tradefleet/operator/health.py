"""The operator's probes, on its liveness port (in place of kopf's endpoint, whose probe
handlers make liveness depend on whatever they check):

- ``GET /healthz`` (liveness): the process works, its event loop answers. Nothing outside
  the process is consulted, so a database outage never restarts the operator (a restart
  would help nothing and could fall into the liquidation window).
- ``GET /readyz`` (readiness): it can reconcile now, i.e. its database (the fleet's source
  of truth, read on every pass) answers within READY_TIMEOUT_S. 503 naming the cause
  otherwise, so ``kubectl get pod`` shows 0/1 and ``describe`` the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

READY_TIMEOUT_S = 3.0


def health_app(db_now: Callable[[], Awaitable[Any]],
               timeout_s: float = READY_TIMEOUT_S) -> web.Application:
    async def live(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(_request: web.Request) -> web.Response:
        try:
            now = await asyncio.wait_for(db_now(), timeout_s)
        except TimeoutError:
            return web.json_response({"postgres": f"no answer within {timeout_s:g}s"},
                                     status=503)
        except Exception as exc:  # noqa: BLE001 - any failure means: cannot reconcile now
            return web.json_response({"postgres": f"{type(exc).__name__}"}, status=503)
        return web.json_response({"postgres": str(now)})

    app = web.Application()
    app.router.add_get("/healthz", live)
    app.router.add_get("/readyz", ready)
    return app


async def start_health_server(db_now: Callable[[], Awaitable[Any]], port: int,
                              host: str = "0.0.0.0",  # noqa: S104 - the kubelet probes in
                              ) -> web.AppRunner | None:
    """Port 0 turns it off."""
    if port == 0:
        return None
    runner = web.AppRunner(health_app(db_now), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
