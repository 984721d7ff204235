"""The console served on a free loopback port for a test, and an HTTP client to read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import aiohttp

from tradefleet.console.server import ConsoleServer, start_console

TOKEN = "test-console-token-0123456789"


@asynccontextmanager
async def served(db, *, token: str | None = TOKEN, day: date | None = None,  # noqa: ANN001
                 kube=None, namespace: str | None = None  # noqa: ANN001
                 ) -> AsyncIterator[tuple[ConsoleServer, aiohttp.ClientSession]]:
    server = await start_console(db, port=0, token=token, day=day, kube=kube,
                                 namespace=namespace, poll_interval=0.05)
    jar = aiohttp.CookieJar(unsafe=True)          # keep cookies of 127.0.0.1
    try:
        async with aiohttp.ClientSession(server.url, cookie_jar=jar) as http:
            yield server, http
    finally:
        await server.stop()


async def sign_in(http: aiohttp.ClientSession, name: str = "kim", token: str = TOKEN) -> str:
    """Signs in; the CSRF token the pages carry."""
    async with http.post("/login", data={"name": name, "token": token},
                         allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
    async with http.get("/") as resp:
        page = await resp.text()
    return page.split('data-csrf="', 1)[1].split('"', 1)[0]
