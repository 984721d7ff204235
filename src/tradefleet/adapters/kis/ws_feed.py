"""The KIS real-time feed of one approval key: connect, register what is wanted, read, and
on any loss (drop, stall, refusal) reconnect with backoff and register it all again.

What is wanted (``subscribe``/``unsubscribe``) is kept apart from what the current session
holds, so a reconnect restores exactly the wanted set. A refused approval key (OPSP0011) is
replaced through the provider (``force_new``), as a refused REST token is. State changes
(``live``/``down`` and why) go to ``on_state`` so a worker can fall back to polling and say so.
No approval key or appkey is ever logged.

A silent socket is detected by ``stale_after``: nothing at all, not even the server's
PINGPONG, for that long. KIS does not publish its PINGPONG interval, so the default (60 s) is
generous: a quiet but healthy line is not cut, and a session that lived that long resets the
backoff (KIS may block an appkey for connect/disconnect loops). The client itself sends no
WebSocket pings (aiohttp's ``heartbeat`` stays off): a third party reports KIS dropping
sessions whose client sends them (sysnet.pe.kr/2/0/13521)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import aiohttp

from tradefleet.adapters.kis.ws_backoff import Backoff
from tradefleet.adapters.kis.ws_frames import APPKEY_IN_USE, INVALID_APPROVAL
from tradefleet.adapters.kis.ws_session import (
    MAX_REGISTRATIONS,
    EventSink,
    RealtimeError,
    RealtimeSession,
    Registration,
    SessionClosed,
    SubscriptionRefused,
    cap_error,
)
from tradefleet.domain.errors import BrokerError
from tradefleet.ports.tokens import TokenProvider

log = logging.getLogger("tradefleet.kis.ws")
StateSink = Callable[[str, str], None]     # (state "live"|"down", why)


class KisRealtimeFeed:
    def __init__(self, http: aiohttp.ClientSession, ws_url: str, approval: TokenProvider,
                 on_event: EventSink, *, on_state: StateSink | None = None,
                 max_registrations: int = MAX_REGISTRATIONS, stale_after: float = 60.0,
                 ack_timeout: float = 5.0, backoff: Backoff | None = None) -> None:
        self._http = http
        self._url = ws_url
        self._approval = approval
        self._on_event = on_event
        self._on_state = on_state
        self._cap = max_registrations
        self._stale_after = stale_after
        self._ack_timeout = ack_timeout
        self._backoff = backoff or Backoff()
        self._wanted: list[Registration] = []
        self._session: RealtimeSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._rejected_key: str | None = None
        self._stop = asyncio.Event()
        self.state = "down"
        self.connects = 0
        self.refused: dict[Registration, str] = {}     # msg_cd of the last refusal

    def __repr__(self) -> str:
        return f"KisRealtimeFeed(state={self.state!r}, wanted={len(self._wanted)})"

    @property
    def session(self) -> RealtimeSession | None:
        return self._session

    @property
    def wanted(self) -> tuple[Registration, ...]:
        return tuple(self._wanted)

    # ---- what is wanted ------------------------------------------------------------------
    async def subscribe(self, tr_id: str, tr_key: str) -> None:
        """Want ``tr_id``/``tr_key``: registered now if live, else on the next connect.
        Raises ``SubscriptionCapReached`` past the cap, ``SubscriptionRefused`` when the
        live session refuses it (then it is not wanted any more)."""
        reg = (tr_id, tr_key)
        if reg in self._wanted:
            return
        if len(self._wanted) >= self._cap:
            raise cap_error(reg, len(self._wanted), self._cap)
        self._wanted.append(reg)
        session = self._session
        if session is not None and not session.closed and reg not in session.registered:
            try:
                await session.subscribe(*reg)
            except SubscriptionRefused as exc:
                self._wanted.remove(reg)
                self.refused[reg] = exc.ack.code
                raise
            except SessionClosed:
                pass                     # the next session registers it

    async def unsubscribe(self, tr_id: str, tr_key: str) -> None:
        reg = (tr_id, tr_key)
        if reg not in self._wanted:
            return
        self._wanted.remove(reg)
        if self._session is not None and reg in self._session.registered:
            with contextlib.suppress(RealtimeError):
                await self._session.unsubscribe(*reg)

    # ---- the connection loop -------------------------------------------------------------
    async def run(self) -> None:
        """Until ``stop``: one session at a time, reconnecting with backoff."""
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                why = await self._one_session()
            except (RealtimeError, BrokerError, aiohttp.ClientError, OSError,
                    TimeoutError) as exc:
                why = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - the feed must outlive any one failure
                why = f"unexpected {type(exc).__name__}"
                log.exception("kis websocket: session failed")
            self._set_state("down", why)
            if self._stop.is_set():
                break
            delay = self._backoff.next_delay(time.monotonic() - started)
            log.info("kis websocket: down (%s); reconnecting in %.2f s", why, delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()

    async def _one_session(self) -> str:
        if self._rejected_key is not None:
            key = await self._approval.get(force_new=True, rejected_token=self._rejected_key)
            self._rejected_key = None
        else:
            key = await self._approval.get()
        async with self._http.ws_connect(self._url, autoping=True,
                                         timeout=aiohttp.ClientWSTimeout(ws_close=2.0)) as ws:
            self._ws = ws
            self.connects += 1
            session = RealtimeSession(ws, key, max_registrations=self._cap,
                                      ack_timeout=self._ack_timeout)
            reader = asyncio.create_task(session.run(self._on_event,
                                                     stale_after=self._stale_after))
            try:
                await self._register_all(session, key)
                self._session = session
                self._set_state("live", f"{len(session.registered)} registrations")
                return await reader
            finally:
                self._session = None
                self._ws = None
                if not reader.done():
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reader

    async def _register_all(self, session: RealtimeSession, key: str) -> None:
        """Register every wanted TR, including any wanted meanwhile, and drop any no longer
        wanted meanwhile; refusals other than a bad key or a busy appkey are reported and
        the rest go on."""
        tried: set[Registration] = set()
        while todo := [r for r in self._wanted if r not in session.registered
                       and r not in tried]:
            for reg in todo:
                tried.add(reg)
                try:
                    await session.subscribe(*reg)
                    self.refused.pop(reg, None)
                except SubscriptionRefused as exc:
                    self.refused[reg] = exc.ack.code
                    if exc.ack.code == INVALID_APPROVAL:
                        self._rejected_key = key
                        raise
                    if exc.ack.code == APPKEY_IN_USE:
                        raise
                    log.warning("kis websocket: %s", exc)      # e.g. OPSP0008
        for reg in session.registered - set(self._wanted):
            await session.unsubscribe(*reg)

    def _set_state(self, state: str, why: str) -> None:
        """Every change, and every failed attempt while down (each with its reason)."""
        report = state != self.state or state == "down"
        self.state = state
        if report and self._on_state is not None:
            self._on_state(state, why)
