"""Running the console: an aiohttp runner on a host and port, with the authority that fits
where it runs (the TradingWorker under Kubernetes, the worker_controls rows locally)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aiohttp import web

from tradefleet.adapters.postgres.database import Database
from tradefleet.console.actions import ActionAuthority, KubeControls, LocalControls
from tradefleet.console.app import ConsoleApp
from tradefleet.console.auth import ConsoleAuth

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8710


@dataclass
class ConsoleServer:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_console(db: Database, *, host: str = LOOPBACK, port: int = DEFAULT_PORT,
                        token: str | None = None, kube=None,  # noqa: ANN001 - KubeApi
                        namespace: str | None = None, day: date | None = None,
                        poll_interval: float = 0.1, secure_cookie: bool = False
                        ) -> ConsoleServer:
    """Serves until ``stop()``; port 0 takes a free one (``server.port`` says which)."""
    authority: ActionAuthority = (KubeControls(db, kube, namespace or "default")
                                  if kube is not None else LocalControls(db))
    app = ConsoleApp(db, ConsoleAuth(token, secure_cookie), authority, day=day,
                     poll_interval=poll_interval).build()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if port == 0 else port  # type: ignore
    return ConsoleServer(runner, host, bound)
