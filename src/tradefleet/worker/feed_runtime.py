"""The account's feed beside ``Worker.run`` (issue 20): the holder candidate, the worker's
listener and the exits on the tick, started with the worker and stopped with it.

Nothing here may stop the worker: each part runs under a guard that logs its failure, says
the worker decides on its poll (the ``tradefleet_feed_live`` gauge to 0) and starts it again
after a backoff. The worker never holds the feed past its own exit: leaving the context
stops the holder (which releases its lease) and cancels every task before ``launch``
returns. Off (``feed.enabled: false``, the default), none of this is built."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog

from tradefleet.domain.exits import ExitParams
from tradefleet.feed.holder import FeedHolder
from tradefleet.feed.listener import PostgresTickListener
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.settings.feed import FeedSettings
from tradefleet.worker.feed_mode import FeedModeReport
from tradefleet.worker.fill_notices import FillNoticeRecorder
from tradefleet.worker.tick_exits import TickExits
from tradefleet.worker.worker import Worker

RESTART_MIN_S, RESTART_MAX_S = 0.5, 30.0
HOLDER_STOP_S = 2.0         # real seconds a stopping holder has to release before its cancel
CYCLE_WAIT_S = 0.05         # real seconds between two looks for the worker's cycle


@dataclass(frozen=True)
class FeedParts:
    """What the command brings: the holder (None: this worker does not stand, not yet
    running), a new listener on each call (one per attempt); the broker for the trend's
    bars; the exit rules; ``on_mode`` hears live (True) or polling (False)."""

    holder: FeedHolder | None
    new_listener: Callable[[], PostgresTickListener]
    broker: BrokerPort
    exits: ExitParams
    clock: Clock
    on_mode: Callable[[bool], None]
    mode_report: FeedModeReport | None = None     # the worker row's feed mode (operator)


def holder_id(worker_id: str) -> str:
    return f"{worker_id}:{os.getpid()}"


class WorkerFeed:
    def __init__(self, settings: FeedSettings, parts: FeedParts, worker: Worker) -> None:
        self.settings = settings
        self.parts = parts
        self.worker = worker
        self.tick_exits: TickExits | None = None
        self.listener: PostgresTickListener | None = None
        self.notices: FillNoticeRecorder | None = None
        self.failures: dict[str, int] = {}
        self._log = structlog.get_logger("tradefleet.feed").bind(
            worker_id=worker.config.worker_id)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WorkerFeed]:
        tasks = [asyncio.create_task(self._guarded("listener", self._listen))]
        if self.parts.holder is not None:
            tasks.append(asyncio.create_task(self._guarded("holder", self.parts.holder.run)))
        self._log.info("feed enabled: ticks heard beside the poll",
                       stands_for_holder=self.parts.holder is not None)
        try:
            yield self
        finally:
            if self.parts.holder is not None:
                self.parts.holder.stop()           # a clean stop releases the lease
                await asyncio.wait(tasks[1:], timeout=HOLDER_STOP_S)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.parts.on_mode(False)
            self._log.info("feed stopped with the worker")

    async def _guarded(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run`` until cancelled; a failure is said and retried, never raised."""
        delay = RESTART_MIN_S
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the feed never stops the worker
                self.failures[name] = self.failures.get(name, 0) + 1
                self.parts.on_mode(False)
                self._log.error("feed part failed; exits decided on the poll until it is "
                                "back", part=name, retry_in_s=delay,
                                error_type=type(exc).__name__, error=str(exc))
            await asyncio.sleep(delay)
            delay = min(RESTART_MAX_S, delay * 2)

    async def _listen(self) -> None:
        """The listener, then, once the worker has its cycle, its pushed fills recorded and
        the exits on the tick."""
        listener = self.parts.new_listener()
        self.listener = listener
        recorder = None
        try:
            await listener.start()
            while self.worker.cycle is None:  # noqa: ASYNC110 - Worker has no event for it
                await asyncio.sleep(CYCLE_WAIT_S)
            cycle = self.worker.cycle
            if self.parts.mode_report is not None:
                self.parts.mode_report.forget()        # registered: the row's mode cleared
            recorder = FillNoticeRecorder(cycle.paths.orders, self.worker.config.worker_id,
                                          cycle.trading_day)
            self.notices = recorder
            await listener.watch_notices(recorder)
            exits = TickExits(self.worker.cycle, listener, self.parts.broker,
                              self.parts.exits, self.parts.clock,
                              may_trade=self.worker.lease.valid, on_mode=self.parts.on_mode)
            self.tick_exits = exits
            await exits.run()
        finally:
            with contextlib.suppress(Exception):
                await listener.close()
            if recorder is not None:
                await recorder.close()
