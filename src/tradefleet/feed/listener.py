"""The worker's side of the fan-out: the ``TickFeed`` port over LISTEN on one dedicated
connection (a pooled connection cannot keep a LISTEN).

The feed is live only while the holder's heartbeat (status channel) is fresh and says live:
``stale_after_s`` without one (a dead or frozen holder, a failover under way) is STALE, a
lost listening connection is DOWN; either way the worker decides on its poll. Freshness is
the time since a heartbeat *arrived* here (monotonic), not the holder's clock. Ticks
published under an older lease token than one already heard are dropped: a superseded holder
cannot speak after its successor (the publish fence already refuses it). A lost connection
is re-opened with backoff, its watches restored; until a heartbeat is heard on it again the
feed is not live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from tradefleet.feed.channels import (
    notice_channel,
    read_notice,
    read_status,
    read_tick,
    status_channel,
    tick_channel,
)
from tradefleet.ports.feed import FeedState, NoticeHandler, TickHandler

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PostgresTickListener:
    def __init__(self, connect: Connect, account_key: str, *, stale_after_s: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self.account_key = account_key
        self.stale_after_s = stale_after_s
        self._now = monotonic
        self._conn: asyncpg.Connection | None = None
        self._handlers: dict[str, TickHandler] = {}
        self._on_notice: NoticeHandler | None = None
        self._status: tuple[FeedState, str] | None = None
        self._heard_at: float | None = None
        self._token = 0
        self.received = 0
        self.notices = 0
        self.dropped_old = 0
        self.bad = 0
        self.reconnects = 0
        self._closing = False
        self._reconnect: asyncio.Task | None = None
        self._log = structlog.get_logger("tradefleet.feed")

    async def start(self) -> None:
        conn = await self._connect()
        conn.add_termination_listener(self._on_lost)
        await conn.add_listener(status_channel(self.account_key), self._on_status)
        for symbol in self._handlers:
            await conn.add_listener(tick_channel(self.account_key, symbol), self._on_tick)
        if self._on_notice is not None:
            await conn.add_listener(notice_channel(self.account_key), self._heard_notice)
        self._conn = conn

    async def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def watch(self, symbol: str, on_tick: TickHandler) -> None:
        channel = tick_channel(self.account_key, symbol)
        if symbol not in self._handlers and self._conn is not None:
            await self._conn.add_listener(channel, self._on_tick)
        self._handlers[symbol] = on_tick

    async def watch_notices(self, on_notice: NoticeHandler) -> None:
        """Every pushed fill notice of the account (any lease token: a notice is a fact, and
        recording it is idempotent), to ``on_notice`` on the event loop."""
        first = self._on_notice is None
        self._on_notice = on_notice
        if first and self._conn is not None:
            await self._conn.add_listener(notice_channel(self.account_key), self._heard_notice)

    async def unwatch(self, symbol: str) -> None:
        if self._handlers.pop(symbol, None) is not None and self._conn is not None \
                and not self._conn.is_closed():
            await self._conn.remove_listener(tick_channel(self.account_key, symbol),
                                             self._on_tick)

    def state(self) -> tuple[FeedState, str]:
        if self._conn is None or self._conn.is_closed():
            return FeedState.DOWN, "not listening to the database"
        if self._status is None or self._heard_at is None:
            return FeedState.STALE, "no feed holder heard yet"
        age = self._now() - self._heard_at
        if age > self.stale_after_s:
            return FeedState.STALE, f"no feed holder heartbeat for {age:.1f} s"
        return self._status

    def _fresh_token(self, token: int) -> bool:
        if token < self._token:
            self.dropped_old += 1
            return False
        self._token = token
        return True

    def _on_status(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            state, why, token = read_status(payload)
        except ValueError as exc:
            self.bad += 1
            self._log.warning("feed status unreadable", error=str(exc))
            return
        if self._fresh_token(token):
            self._status = (state, f"holder {token}: {why}")
            self._heard_at = self._now()

    def _on_tick(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            tick, token = read_tick(payload)
        except ValueError as exc:
            self.bad += 1
            self._log.warning("tick unreadable", error=str(exc))
            return
        handler = self._handlers.get(tick.symbol)
        if handler is None or not self._fresh_token(token):
            return
        self.received += 1
        handler(tick)

    def _heard_notice(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            notice = read_notice(payload)
        except ValueError as exc:
            self.bad += 1
            self._log.warning("fill notice unreadable", error=str(exc))
            return
        if self._on_notice is not None:
            self.notices += 1
            self._on_notice(notice)

    def _on_lost(self, _conn: object) -> None:
        if self._closing:
            return
        self._conn = None
        self._status = None
        self._log.warning("feed listener lost its database connection; exits on the poll "
                          "until it is back")
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                await self.start()
            except Exception as exc:  # noqa: BLE001 - the database may be restarting
                self._log.warning("feed listener: reconnect failed", retry_in_s=delay,
                                  error_type=type(exc).__name__, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            self.reconnects += 1
            self._log.info("feed listener listening again", watched=len(self._handlers))
            return
