"""A small async client of the real API for the node agent: JSON in, JSON out, over the
cluster's TLS with a client certificate (the agent's system:node identity)."""

from __future__ import annotations

import json
import ssl
from typing import Any

import aiohttp

MERGE = "application/merge-patch+json"


class ApiError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:400]}")
        self.status = status


class Api:
    def __init__(self, server: str, context: ssl.SSLContext) -> None:
        self._server = server.rstrip("/")
        self._ssl = context
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def call(self, method: str, path: str, body: Any = None, *,
                   content_type: str = "application/json", missing_ok: bool = False,
                   params: dict[str, str] | None = None) -> Any:
        assert self._http is not None
        data = None if body is None else json.dumps(body)
        async with self._http.request(method, self._server + path, data=data, params=params,
                                      ssl=self._ssl,
                                      headers={"Content-Type": content_type}) as resp:
            text = await resp.text()
            if resp.status == 404 and missing_ok:
                return None
            if resp.status >= 400:
                raise ApiError(resp.status, method, path, text)
            return json.loads(text) if text else {}

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.call("GET", path, **kw)

    async def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return await self.call("PATCH", path, body, content_type=MERGE, **kw)
