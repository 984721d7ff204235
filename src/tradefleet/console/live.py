"""Live updates: one cheap poll of the database's change marks (newest event id, newest order,
position and control write, the workers' states) every ``interval`` seconds, fanned out to
every open page as a server-sent event. One query a tick whatever the number of pages; a page
that falls behind gets one "changed" for many (its queue holds one)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from tradefleet.adapters.postgres.database import Database

log = logging.getLogger(__name__)

MARKS = """
SELECT (SELECT max(event_id) FROM events) AS event_id,
       (SELECT max(updated_at) FROM orders) AS orders_at,
       (SELECT max(updated_at) FROM positions) AS positions_at,
       (SELECT max(updated_at) FROM worker_controls) AS controls_at,
       (SELECT md5(string_agg(worker_id || status || coalesce(current_symbol, '') || epoch
                              || coalesce(buy_blocked, ''), ',' ORDER BY worker_id))
          FROM workers) AS workers
"""
KEEPALIVE_S = 15.0


class ChangeFeed:
    def __init__(self, db: Database, interval: float = 0.1) -> None:
        self._db = db
        self._interval = interval
        self._pages: set[asyncio.Queue[int]] = set()
        self._task: asyncio.Task | None = None
        self.version = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="console-change-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        last = None
        while True:
            try:
                marks = tuple(await self._db.pool.fetchrow(MARKS))
                if marks != last:
                    last = marks
                    self.version += 1
                    for page in list(self._pages):
                        if page.full():
                            page.get_nowait()
                        page.put_nowait(self.version)
            except Exception as exc:  # noqa: BLE001 - a live page outlives a bad poll
                log.warning("console change poll failed: %r", exc)
            await asyncio.sleep(self._interval)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """``GET /live``: ``event: change`` whenever the marks move."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        page: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._pages.add(page)
        try:
            await resp.write(f"retry: 1000\nevent: hello\ndata: {self.version}\n\n".encode())
            while True:
                try:
                    version = await asyncio.wait_for(page.get(), KEEPALIVE_S)
                    await resp.write(f"event: change\ndata: {version}\n\n".encode())
                except TimeoutError:
                    await resp.write(b": keepalive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._pages.discard(page)
        return resp
