"""The simulator's KIS WebSocket feed, on its own port beside the REST app (as KIS serves
``ws://ops.koreainvestment.com:21000`` apart from its REST domain), over the same market,
approval keys and order records.

Paths ``/`` and ``/tryitout`` (the official sample and python-kis append it). Every
``push_interval`` seconds, and at once after an order is accepted over REST, one pump
pushes, per session: an ``H0STCNT0`` frame with one record
per registered symbol that traded since the last push (several records in one frame, as KIS
batches), one encrypted notice frame per new execution of the account to sessions that
registered the account's HTS id, and every ``ping_interval`` a PINGPONG (answered by a text
echo or a pong frame; both are counted). Faults: ``ws_faults.py``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from aiohttp import WSMsgType, web

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.ws_frames import (
    INTERNAL_ERROR,
    INVALID_APPROVAL,
    PINGPONG,
    SUBSCRIBED,
)
from tradefleet.adapters.kis.ws_ticks import TICK_TR
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.approval import ApprovalKeys
from tradefleet.adapters.sim.exchange.routes import Exchange
from tradefleet.adapters.sim.exchange.ws_faults import WsFaultError, WsFaults
from tradefleet.adapters.sim.exchange.ws_records import ack_record, notice_record, tick_record
from tradefleet.adapters.sim.exchange.ws_session import (
    APPKEY_IN_USE,
    FeedSession,
    ack,
    refusal,
    served,
)

log = logging.getLogger("tradefleet.exchange.feed")


@dataclass
class FeedConfig:
    mode: str = "real"                  # which notice TR is served: H0STCNI0 / H0STCNI9
    hts_id: str | None = None           # notices go to this HTS id; None = any
    account_no: str = "0000000001"      # ACNT_NO in notices (CANO + product code)
    notice_width: int = 26              # 26 (KIS since 2025) or 23 (python-kis 2.1.6)
    push_interval: float = 0.05
    ping_interval: float = 10.0
    max_registrations: int = 41         # KIS refuses the 42nd
    order_acks: bool = True             # acknowledge REST orders (CNTG_YN 1) before fills

    def __post_init__(self) -> None:
        if self.mode not in ("real", "paper"):
            raise ValueError(f"mode: must be 'real' or 'paper', got {self.mode!r}")
        if self.notice_width not in (23, 26):
            raise ValueError(f"notice_width: must be 23 or 26, got {self.notice_width!r}")
        if not (len(self.account_no) == 10 and self.account_no.isdigit()):
            raise ValueError("account_no: must be 10 digits (CANO + product code)")
        if not self.push_interval > 0 or not self.ping_interval > 0:
            raise ValueError("push_interval/ping_interval: must be > 0 seconds")


class FeedServer:
    def __init__(self, market: SimMarket, approvals: ApprovalKeys, exchange: Exchange | None,
                 config: FeedConfig | None = None) -> None:
        self.market = market
        self.approvals = approvals
        self.exchange = exchange
        self.config = config or FeedConfig()
        self.faults = WsFaults()
        self.sessions: list[FeedSession] = []
        self.counters = {"connections": 0, "ticks": 0, "tick_frames": 0, "notices": 0,
                         "pings": 0, "pongs": 0}
        self._last_ping = time.monotonic()
        self._index = {sym: i for i, sym in enumerate(market.universe.symbols)}
        self._wake = asyncio.Event()
        if exchange is not None:
            exchange.on_order.append(self.wake)

    # ---- sessions ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        notice_tr = "H0STCNI0" if self.config.mode == "real" else "H0STCNI9"
        session = FeedSession(ws, request, notice_tr)
        self.sessions.append(session)
        self.counters["connections"] += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(session, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    self._pong(session)
        finally:
            self.sessions.remove(session)
        return ws

    def _pong(self, session: FeedSession) -> None:
        session.pongs += 1
        self.counters["pongs"] += 1

    async def _on_text(self, session: FeedSession, text: str) -> None:
        try:
            data = json.loads(text)
            header = data["header"]
            if header.get("tr_id") == PINGPONG:
                self._pong(session)
                return
            approval_key = str(header["approval_key"])
            tr_type = str(header["tr_type"])
            tr_id = str(data["body"]["input"]["tr_id"])
            tr_key = str(data["body"]["input"]["tr_key"])
        except (ValueError, KeyError, TypeError):
            await session.ws.send_str(refusal("", "", INTERNAL_ERROR,
                                              "JSON PARSING ERROR : invalid request"))
            return
        await session.ws.send_str(self._answer(session, approval_key, tr_type, tr_id, tr_key))

    def _answer(self, session: FeedSession, approval_key: str, tr_type: str, tr_id: str,
                tr_key: str) -> str:
        appkey = self.approvals.appkey_of(approval_key)
        if appkey is None:
            return refusal(tr_id, tr_key, INVALID_APPROVAL, "invalid approval : NOT FOUND")
        if tr_type not in ("1", "2"):
            return refusal(tr_id, tr_key, INTERNAL_ERROR, f"invalid tr_type {tr_type!r}")
        if not served(tr_id, self.config.mode):
            return refusal(tr_id, tr_key, INTERNAL_ERROR, f"invalid tr_id {tr_id!r}")
        if any(s is not session and s.appkey == appkey and s.regs
               for s in self.sessions):
            return refusal(tr_id, tr_key, APPKEY_IN_USE, "ALREADY IN USE appkey")
        session.appkey = appkey
        subscribe = tr_type == "1"
        code, message, ok = session.register(tr_id, tr_key, subscribe,
                                             self.config.max_registrations)
        if not ok:
            return refusal(tr_id, tr_key, code, message)
        fresh = code == SUBSCRIBED
        if fresh and tr_id == TICK_TR and tr_key in self.market.universe.symbols:
            session.last_volume[tr_key] = self.market.quote(tr_key).volume
        if fresh and tr_id == session.notice_tr and len(session.notices) == 1:
            session.notice_index = len(self.market.executions())
            session.order_index = len(self.exchange.orders) if self.exchange else 0
        keys = (session.key, session.iv) if tr_id == session.notice_tr and subscribe else None
        return ack(tr_id, tr_key, code, message, cipher_text=keys)

    # ---- the pump ------------------------------------------------------------------------
    def wake(self) -> None:
        """Pump now rather than at the next interval (after an order; a bench's step)."""
        self._wake.set()

    async def pump_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):      # an order's fills go out at once
                async with asyncio.timeout(self.config.push_interval):
                    await self._wake.wait()
            self._wake.clear()
            if self.faults.stalled() or not self.sessions:
                continue
            try:
                await self.pump_once()
            except (ConnectionError, RuntimeError):
                continue            # a session closing mid-send; the next pump goes on
            except Exception:  # noqa: BLE001 - the feed outlives one bad pump
                log.exception("exchange feed: pump failed")

    async def pump_once(self) -> None:
        now = self.market.clock.now().astimezone(SEOUL)
        if time.monotonic() - self._last_ping >= self.config.ping_interval:
            self._last_ping = time.monotonic()
            ping = json.dumps({"header": {"tr_id": PINGPONG,
                                          "datetime": now.strftime("%Y%m%d%H%M%S")}})
            for s in list(self.sessions):
                await s.ws.send_str(ping)
                self.counters["pings"] += 1
        symbols = sorted({sym for s in self.sessions for sym in s.ticks})
        if symbols:
            quotes = self.market.quotes(symbols)
            for s in list(self.sessions):
                await self._push_ticks(s, quotes, now)
        if any(s.notices for s in self.sessions):
            executions = self.market.executions()
            for s in list(self.sessions):
                await self._push_notices(s, executions)

    async def _push_ticks(self, s: FeedSession, quotes: dict, now: datetime) -> None:
        records: list[str] = []
        for sym in sorted(s.ticks):
            q = quotes.get(sym)
            if q is None:
                continue
            traded = q.volume - s.last_volume.get(sym, q.volume)
            s.last_volume[sym] = q.volume
            if traded > 0:
                depth = int(self.market.universe.depth[self._index[sym]])
                records.append("^".join(tick_record(q, traded, now, depth)))
        if records:
            await s.ws.send_str(f"0|{TICK_TR}|{len(records):03d}|" + "^".join(records))
            self.counters["ticks"] += len(records)
            self.counters["tick_frames"] += 1

    async def _push_notices(self, s: FeedSession, executions: list) -> None:
        hts = self.config.hts_id
        if not s.notices or (hts is not None and hts not in s.notices):
            return
        new, s.notice_index = executions[s.notice_index:], len(executions)
        hts_id = hts or sorted(s.notices)[0]
        if self.exchange is not None and self.config.order_acks:
            orders = self.exchange.orders
            placed, s.order_index = orders[s.order_index:], len(orders)
            for order in placed:                     # acknowledged before their fills
                report = self.market.report(order.odno)
                row = ack_record(order, report.qty if report else 0, hts_id=hts_id,
                                 account_no=self.config.account_no,
                                 width=self.config.notice_width)
                await self._send_notice(s, f"1|{s.notice_tr}|001|"
                                        + s.cipher.encrypt("^".join(row)))
        for e in new:
            report = self.market.report(e.odno)
            placed = self._placed(e.odno)
            row = notice_record(e, hts_id=hts_id, account_no=self.config.account_no,
                                report=report, placed=placed, width=self.config.notice_width)
            frame = f"1|{s.notice_tr}|001|" + s.cipher.encrypt("^".join(row))
            await self._send_notice(s, frame)

    async def _send_notice(self, s: FeedSession, frame: str) -> None:
        if self.faults.take("lose_notice"):
            return
        if self.faults.take("reorder_notices"):
            s.held.append(frame)
            return
        copies = 2 if self.faults.take("duplicate_notice") else 1
        for _ in range(copies):
            await s.ws.send_str(frame)
            self.counters["notices"] += 1
        while s.held:
            await s.ws.send_str(s.held.pop(0))
            self.counters["notices"] += 1

    def _placed(self, odno: str):  # noqa: ANN202 - PlacedOrder | None
        if self.exchange is None:
            return None
        return next((o for o in reversed(self.exchange.orders) if o.odno == odno), None)

    async def close_all(self) -> None:
        """Close every session (a server shutting down; aiohttp would wait for them)."""
        for s in list(self.sessions):
            await s.ws.close()

    # ---- admin ---------------------------------------------------------------------------
    async def arm_fault(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        try:
            armed = self.faults.arm(body)
        except WsFaultError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if armed["kind"] == "drop":
            for s in list(self.sessions):
                transport = s.request.transport
                if transport is not None:
                    transport.abort()
            self.faults.acted["drop"] += 1
        return web.json_response({"armed": armed})

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response({"sessions": len(self.sessions), **self.counters,
                                  "faults": self.faults.state()})


def build_feed_app(server: FeedServer) -> web.Application:
    app = web.Application()
    app.router.add_get("/", server.handle)
    app.router.add_get("/tryitout", server.handle)
    app.router.add_post("/_admin/ws/faults", server.arm_fault)
    app.router.add_get("/_admin/ws/state", server.state)

    async def pump(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(server.pump_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(pump)
    return app


@contextlib.asynccontextmanager
async def running_feed(server: FeedServer, port: int = 0, *, host: str = "127.0.0.1"
                       ) -> AsyncIterator[str]:
    """Serve the feed on ``host``:``port`` (0 = a free one); yields its ws:// URL."""
    runner = web.AppRunner(build_feed_app(server), handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        yield f"ws://{host}:{runner.addresses[0][1]}"
    finally:
        await server.close_all()
        await runner.cleanup()
