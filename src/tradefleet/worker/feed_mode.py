"""Tells the worker's row whether its feed is live or it polls (issue 20), on each change
only: a write a change, retried a few times on a database error, never blocking the loop.
``forget`` (the worker registered a new life, which clears the row's mode) makes the next
word be written even when it is the same as the last one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

RETRIES_S = (0.5, 2.0, 5.0)

Write = Callable[[str, bool], Awaitable[None]]


class FeedModeReport:
    def __init__(self, write: Write, worker_id: str) -> None:
        self._write = write
        self.worker_id = worker_id
        self._said: bool | None = None      # what the row says (None: unknown)
        self._want: bool | None = None
        self._task: asyncio.Task | None = None
        self.writes = 0
        self._log = structlog.get_logger("tradefleet.feed").bind(worker_id=worker_id)

    def __call__(self, live: bool) -> None:
        self._want = live
        if self._task is not None and not self._task.done():
            return                          # the running flush writes the latest word
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return                          # no loop: nothing to write with
        self._task = loop.create_task(self._flush())

    def forget(self) -> None:
        self._said = None

    async def _flush(self) -> None:
        for delay in (0.0, *RETRIES_S):
            await asyncio.sleep(delay)
            want = self._want
            if want is None or want == self._said:
                return
            try:
                await self._write(self.worker_id, want)
            except Exception as exc:  # noqa: BLE001 - the status is late, the trading is not
                self._log.warning("feed mode not written to the worker row",
                                  error_type=type(exc).__name__, error=str(exc))
                continue
            self._said = want
            self.writes += 1
            if self._want == want:
                return
