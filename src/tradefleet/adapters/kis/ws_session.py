"""One KIS WebSocket session: registrations with their acks, PINGPONG, and decoding.

KIS gives one session per approval key and caps its registrations (KIS's own clients stop at
40; the server refuses the 42nd with OPSP0008), so the cap is checked here before anything is
sent, with an error that says so. ``run`` reads until the socket closes or nothing at all
(not even PINGPONG) arrives for ``stale_after`` seconds; it answers PINGPONG with the same
text (the server accepts a text echo or a pong frame), resolves the ack each ``subscribe``
waits for, and hands decoded ticks and notices to ``on_event``. A frame not in KIS's form is
counted and reported, and the session goes on: one bad frame must not blind the feed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from tradefleet.adapters.kis.ws_cipher import NoticeCipher
from tradefleet.adapters.kis.ws_frames import (
    ControlAck,
    DataFrame,
    FrameError,
    PingPong,
    classify,
    registration,
)
from tradefleet.adapters.kis.ws_notices import NOTICE_TRS, OrderNotice, parse_notices
from tradefleet.adapters.kis.ws_ticks import TICK_TR, Tick, parse_ticks

log = logging.getLogger("tradefleet.kis.ws")
MAX_REGISTRATIONS = 40
Registration = tuple[str, str]           # (tr_id, tr_key)
EventSink = Callable[[list[Tick] | list[OrderNotice]], None]


def shown(tr_id: str, tr_key: str) -> str:
    """A registration as logs and errors show it: a notice TR's key is the account holder's
    HTS id, so only its first two characters are shown."""
    if tr_id in NOTICE_TRS.values():
        return f"{tr_id} {tr_key[:2]}***"
    return f"{tr_id} {tr_key!r}"


class RealtimeError(Exception):
    """The WebSocket feed cannot do what was asked."""


class SubscriptionCapReached(RealtimeError):
    pass


class SubscriptionRefused(RealtimeError):
    def __init__(self, ack: ControlAck) -> None:
        super().__init__(f"{shown(ack.tr_id, ack.tr_key)}: refused {ack.code} {ack.message}")
        self.ack = ack


class SessionClosed(RealtimeError):
    pass


def cap_error(wanted: Registration, held: int, cap: int) -> SubscriptionCapReached:
    return SubscriptionCapReached(
        f"{shown(*wanted)}: the session already holds {held} registrations, the cap "
        f"is {cap} per approval key (KIS refuses more with OPSP0008); unsubscribe one first")


class RealtimeSession:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, approval_key: str, *,
                 max_registrations: int = MAX_REGISTRATIONS, ack_timeout: float = 5.0,
                 custtype: str = "P") -> None:
        self._ws = ws
        self._key = approval_key
        self._cap = max_registrations
        self._ack_timeout = ack_timeout
        self._custtype = custtype
        self._pending: dict[Registration, asyncio.Future[ControlAck]] = {}
        self._ciphers: dict[str, NoticeCipher] = {}
        self.registered: set[Registration] = set()
        self.closed = False
        self.pings = 0
        self.bad_frames = 0
        self.last_frame_at = time.monotonic()

    def __repr__(self) -> str:
        return f"RealtimeSession(registered={len(self.registered)}, approval_key=***)"

    # ---- registrations -------------------------------------------------------------------
    async def subscribe(self, tr_id: str, tr_key: str) -> ControlAck:
        reg = (tr_id, tr_key)
        if reg in self.registered:
            raise RealtimeError(f"{shown(*reg)}: already registered on this session")
        if len(self.registered) + len(self._pending) >= self._cap:
            raise cap_error(reg, len(self.registered) + len(self._pending), self._cap)
        ack = await self._ask(reg, subscribe=True)
        self.registered.add(reg)
        if ack.key and ack.iv:
            self._ciphers[tr_id] = NoticeCipher(ack.key, ack.iv)
        return ack

    async def unsubscribe(self, tr_id: str, tr_key: str) -> ControlAck:
        ack = await self._ask((tr_id, tr_key), subscribe=False)
        self.registered.discard((tr_id, tr_key))
        return ack

    async def _ask(self, reg: Registration, *, subscribe: bool) -> ControlAck:
        if self.closed:
            raise SessionClosed(f"{shown(*reg)}: the session is closed")
        if reg in self._pending:
            raise RealtimeError(f"{shown(*reg)}: a registration is already in flight")
        fut: asyncio.Future[ControlAck] = asyncio.get_running_loop().create_future()
        self._pending[reg] = fut
        try:
            await self._ws.send_str(registration(self._key, *reg, subscribe=subscribe,
                                                 custtype=self._custtype))
            async with asyncio.timeout(self._ack_timeout):
                ack = await fut
        except TimeoutError:
            raise RealtimeError(f"{shown(*reg)}: no ack within {self._ack_timeout:g} s") \
                from None
        finally:
            self._pending.pop(reg, None)
        if not ack.ok:
            raise SubscriptionRefused(ack)
        return ack

    # ---- reading -------------------------------------------------------------------------
    async def run(self, on_event: EventSink, *, stale_after: float) -> str:
        """Read until the session ends; returns why."""
        why = "closed by the server"
        try:
            while True:
                try:
                    msg = await self._ws.receive(timeout=stale_after)
                except TimeoutError:
                    why = f"stale: nothing received for {stale_after:g} s"
                    break
                self.last_frame_at = time.monotonic()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._on_text(msg.data, on_event)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await self._on_text(msg.data.decode("utf-8", "replace"), on_event)
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                  aiohttp.WSMsgType.CLOSED):
                    break
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    why = f"socket error: {type(self._ws.exception()).__name__}"
                    break
        finally:
            self.closed = True
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(SessionClosed(f"session ended ({why})"))
            await self._ws.close()
        return why

    async def _on_text(self, text: str, on_event: EventSink) -> None:
        try:
            frame = classify(text)
            if isinstance(frame, PingPong):
                self.pings += 1
                await self._ws.send_str(frame.text)
            elif isinstance(frame, ControlAck):
                self._on_ack(frame)
            else:
                events = self._decode(frame)
                if events:
                    self._deliver(on_event, events)
        except FrameError as exc:
            self.bad_frames += 1
            log.warning("kis websocket: frame rejected: %s", exc)

    @staticmethod
    def _deliver(on_event: EventSink, events: list[Any]) -> None:
        try:
            on_event(events)
        except Exception:  # noqa: BLE001 - a consumer's bug must not end the session
            log.exception("kis websocket: the event consumer failed")

    def _on_ack(self, ack: ControlAck) -> None:
        fut = self._pending.get((ack.tr_id, ack.tr_key))
        if fut is None:
            # some answers (OPSP8996, errors) come without, or with another spelling of, the
            # tr_key asked for: the oldest registration of that TR in flight is answered
            fut = next((f for (tr, _), f in self._pending.items()
                        if tr == ack.tr_id and not f.done()), None)
        if fut is not None and not fut.done():
            fut.set_result(ack)
        else:
            log.info("kis websocket: unsolicited control %s %s", ack.tr_id, ack.code)

    def _decode(self, frame: DataFrame) -> list[Any]:
        if frame.tr_id == TICK_TR:
            return parse_ticks(frame)
        if frame.tr_id in NOTICE_TRS.values():
            cipher = self._ciphers.get(frame.tr_id)
            if cipher is None:
                raise FrameError(f"{frame.tr_id}: an encrypted frame before its subscribe ack "
                                 "gave key/iv")
            return parse_notices(frame, cipher)
        return []
