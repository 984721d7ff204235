"""The simulator's aiohttp application: gateway checks in front of the KIS routes.

Order of checks per /uapi request, as a client sees them at KIS: trace span → credentials and
token (EGW00121/EGW00123) → per-appkey rate window (HTTP 500 EGW00201) → TR id valid for this
environment → injected fault → the endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from opentelemetry import propagate, trace

from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.gateway import (
    ExchangeConfig,
    Fault,
    Gateway,
    kst_string,
)
from tradefleet.adapters.sim.exchange.payloads import envelope
from tradefleet.adapters.sim.exchange.routes import ROUTES, Exchange, accepted_trs

_PREFIX = "/uapi/domestic-stock/v1/"
_GATEWAY = web.AppKey("gateway", Gateway)
_EXCHANGE = web.AppKey("exchange", Exchange)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_tracer = trace.get_tracer("tradefleet.exchange")
_NOT_PAPER_TR = "모의투자 TR 이 아닙니다."
_NOT_REAL_TR = "실전투자 TR 이 아닙니다."
_THROTTLED = "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)"


def _error(code: str, message: str, status: int = 500) -> web.Response:
    return web.json_response(envelope(code, message, rt_cd="1"), status=status)


@web.middleware
async def _gateway_checks(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(_PREFIX):
        return await handler(request)
    path = request.path[len(_PREFIX):]
    ctx = propagate.extract(dict(request.headers))
    with _tracer.start_as_current_span(f"KIS {request.method} {path}", context=ctx,
                                       kind=trace.SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", request.method)
        span.set_attribute("url.path", request.path)
        span.set_attribute("kis.tr_id", request.headers.get("tr_id", ""))
        resp = await _checked(request, handler, path)
        span.set_attribute("http.response.status_code", resp.status)
        return resp


async def _checked(request: web.Request, handler: Handler, path: str) -> web.StreamResponse:
    gw = request.app[_GATEWAY]
    appkey = request.headers.get("appkey", "")
    bad = gw.check_credentials(appkey, request.headers.get("appsecret", ""))
    if bad:
        return _error(bad, "유효하지 않은 AppKey/AppSecret 입니다.")
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    status = gw.token_status(token, appkey)
    if status == "EGW00123":
        return _error(status, "기간이 만료된 token 입니다.")
    if status:
        return _error(status, "유효하지 않은 token 입니다.")
    if not gw.admit(appkey):
        return _error("EGW00201", "초당 거래건수를 초과하였습니다.")
    if path not in ROUTES:
        return _error("OPSQ0404", f"path: unknown {path}", status=404)
    tr_id = request.headers.get("tr_id", "")
    if tr_id not in accepted_trs(path, gw.config.mode):
        msg = _NOT_PAPER_TR if gw.config.mode == "paper" else _NOT_REAL_TR
        return _error("OPSQ0010", f"tr_id {tr_id!r}: {msg}")
    fault = gw.take_fault(path.rsplit("/", 1)[1])
    if fault is not None:
        return await _act_out(fault, request, handler)
    return await handler(request)


async def _act_out(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency delays the answer; timeout hangs and gives up without acting; error is a 5xx
    without acting; drop_after_accept acts and then cuts the connection (answer lost);
    hang_after_accept acts and then holds the answer for ``delay`` seconds (a client can die
    between the order reaching the exchange and hearing back)."""
    if fault.kind == "timeout":
        await asyncio.sleep(fault.delay or 3600.0)
        return _error("EGW00504", "simulated gateway timeout", status=504)
    if fault.kind == "error":
        return _error("EGW00500", "simulated gateway failure", status=503)
    if fault.kind == "drop_after_accept":
        await handler(request)
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError
    if fault.kind == "hang_after_accept":
        response = await handler(request)
        await asyncio.sleep(fault.delay or 3600.0)
        return response
    await asyncio.sleep(fault.delay)
    return await handler(request)


async def _token(request: web.Request) -> web.Response:
    gw = request.app[_GATEWAY]
    try:
        body = await request.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
        return web.json_response({"error_code": "EGW00002",
                                  "error_description": "grant_type: client_credentials"},
                                 status=403)
    appkey, appsecret = str(body.get("appkey", "")), str(body.get("appsecret", ""))
    bad = gw.check_credentials(appkey, appsecret)
    if bad:
        return web.json_response({"error_code": bad,
                                  "error_description": "유효하지 않은 AppKey/AppSecret 입니다."},
                                 status=403)
    tok, throttled = gw.issue(appkey)
    if throttled or tok is None:
        return web.json_response({"error_code": "EGW00133",
                                  "error_description": _THROTTLED},
                                 status=403)
    return web.json_response({"access_token": tok.value, "token_type": "Bearer",
                              "expires_in": gw.config.token_ttl_seconds,
                              "access_token_token_expired": kst_string(tok.expires_at)})


async def _admin_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "mode": request.app[_GATEWAY].config.mode})


async def _admin_counters(request: web.Request) -> web.Response:
    return web.json_response(request.app[_GATEWAY].counters())


async def _admin_set_fault(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        request.app[_GATEWAY].set_fault(str(body["operation"]), str(body["kind"]),
                                        count=body.get("count"),
                                        delay=float(body.get("delay", 0.0)))
    except (KeyError, ValueError, TypeError) as exc:
        return web.json_response({"error": f"{exc}"}, status=400)
    return web.json_response({"ok": True})


async def _admin_clear_faults(request: web.Request) -> web.Response:
    request.app[_GATEWAY].clear_faults()
    return web.json_response({"ok": True})


async def _admin_expire_tokens(request: web.Request) -> web.Response:
    return web.json_response({"expired": request.app[_GATEWAY].expire_all()})


def build_app(market: SimMarket, config: ExchangeConfig | None = None) -> web.Application:
    config = config or ExchangeConfig()
    app = web.Application(middlewares=[_gateway_checks])
    gateway = Gateway(config)
    exchange = Exchange(market, gateway, config)
    app[_GATEWAY] = gateway
    app[_EXCHANGE] = exchange
    app.router.add_post("/oauth2/tokenP", _token)
    app.router.add_get("/_admin/health", _admin_health)
    app.router.add_get("/_admin/counters", _admin_counters)
    app.router.add_post("/_admin/faults", _admin_set_fault)
    app.router.add_delete("/_admin/faults", _admin_clear_faults)
    app.router.add_post("/_admin/tokens/expire", _admin_expire_tokens)
    exchange.add_routes(app)
    return app


def gateway_of(app: web.Application) -> Gateway:
    return app[_GATEWAY]


@contextlib.asynccontextmanager
async def running_exchange(market: SimMarket, config: ExchangeConfig | None = None,
                           port: int = 0) -> AsyncIterator[tuple[str, web.Application]]:
    """Serve on 127.0.0.1 (``port`` 0 = a free one); yields (base_url, app)."""
    app = build_app(market, config)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{bound}", app
    finally:
        await runner.cleanup()
