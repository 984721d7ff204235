"""The simulator's aiohttp application: gateway checks in front of the KIS routes.

Order of checks per /uapi request, as a client sees them at KIS: trace span → credentials and
token (EGW00121/EGW00123) → injected rate_limit rule (EGW00201, takes no slot) → per-appkey
rate window (HTTP 500 EGW00201) → TR id valid for this environment → any other injected
fault rule → the endpoint. Rules name the request's ``BrokerPort`` operation
(``operations.py``) and are armed over ``/_admin/faults`` (``fault_admin.py``); the exchange's
books are served at ``/_admin/books`` (``books.py``). Outermost, ``headers.py`` puts KIS's
response headers (``tr_id``, ``tr_cont``, ``gt_uid``) on every answer and KIS's JSON envelope
on a path no route serves."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from opentelemetry import propagate, trace

from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.approval import (
    APPROVALS,
    ApprovalKeys,
    approval,
    client_credentials,
)
from tradefleet.adapters.sim.exchange.books import add_book_routes
from tradefleet.adapters.sim.exchange.fault_acts import (
    RATE_LIMITED_MESSAGE,
    TOKEN_REFUSALS,
    TOKEN_THROTTLED_MESSAGE,
    UAPI_REFUSALS,
    act_out,
)
from tradefleet.adapters.sim.exchange.fault_admin import PLAN, add_fault_routes
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig, Gateway, kst_string
from tradefleet.adapters.sim.exchange.hashkey import hashkey
from tradefleet.adapters.sim.exchange.headers import NO_SUCH_SERVICE, kis_headers
from tradefleet.adapters.sim.exchange.operations import request_operation, worker_of
from tradefleet.adapters.sim.exchange.payloads import envelope
from tradefleet.adapters.sim.exchange.routes import ROUTES, Exchange, accepted_trs
from tradefleet.adapters.sim.faults import EXCHANGE_KINDS, GATEWAY_KINDS, Fault

_PREFIX = "/uapi/domestic-stock/v1/"
_GATEWAY = web.AppKey("gateway", Gateway)
_EXCHANGE = web.AppKey("exchange", Exchange)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_tracer = trace.get_tracer("tradefleet.exchange")
_NOT_PAPER_TR = "모의투자 TR 이 아닙니다."
_NOT_REAL_TR = "실전투자 TR 이 아닙니다."


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
    plan = request.app[PLAN]
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
    operation = await request_operation(request, path) if path in ROUTES else None
    selectors = {"appkey": appkey, "worker": worker_of(request)}
    if operation is not None:
        trace.get_current_span().set_attribute("sim.operation", operation)
        fault = plan.take(operation, kinds=GATEWAY_KINDS, **selectors)
        if fault is not None:
            return await _faulted(fault, request, handler)
    if not gw.admit(appkey):
        return _error("EGW00201", RATE_LIMITED_MESSAGE)
    if path not in ROUTES:
        code, message = NO_SUCH_SERVICE
        return _error(code, f"{message} (path: {path})", status=404)
    tr_id = request.headers.get("tr_id", "")
    if tr_id not in accepted_trs(path, gw.config.mode):
        msg = _NOT_PAPER_TR if gw.config.mode == "paper" else _NOT_REAL_TR
        return _error("OPSQ0010", f"tr_id {tr_id!r}: {msg}")
    if operation is not None:
        fault = plan.take(operation, kinds=EXCHANGE_KINDS, **selectors)
        if fault is not None:
            return await _faulted(fault, request, handler)
    return await handler(request)


async def _faulted(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    trace.get_current_span().set_attribute("sim.fault", f"{fault.kind}#{fault.rule_id}")
    return await act_out(fault, request, handler, UAPI_REFUSALS)


async def _token(request: web.Request) -> web.StreamResponse:
    gw = request.app[_GATEWAY]
    appkey, refused = await client_credentials(gw, request, "appsecret", "AppSecret")
    if refused is not None:
        return refused

    async def issue(_: web.Request) -> web.Response:
        tok, throttled = gw.issue(appkey)
        if throttled or tok is None:
            return web.json_response({"error_code": "EGW00133",
                                      "error_description": TOKEN_THROTTLED_MESSAGE},
                                     status=403)
        return web.json_response({"access_token": tok.value, "token_type": "Bearer",
                                  "expires_in": gw.config.token_ttl_seconds,
                                  "access_token_token_expired": kst_string(tok.expires_at)})

    fault = request.app[PLAN].take("authenticate", appkey=appkey, worker=worker_of(request))
    if fault is not None:
        return await act_out(fault, request, issue, TOKEN_REFUSALS)
    return await issue(request)


async def _admin_health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "mode": request.app[_GATEWAY].config.mode})


async def _admin_counters(request: web.Request) -> web.Response:
    return web.json_response(request.app[_GATEWAY].counters())


async def _admin_expire_tokens(request: web.Request) -> web.Response:
    return web.json_response({"expired": request.app[_GATEWAY].expire_all()})


def build_app(market: SimMarket, config: ExchangeConfig | None = None, *,
              approvals: ApprovalKeys | None = None) -> web.Application:
    """``approvals``: WebSocket approval keys shared with another app over the same market
    (paper and real domains: a key is good on either domain's WebSocket, as at KIS)."""
    config = config or ExchangeConfig()
    app = web.Application(middlewares=[kis_headers, _gateway_checks])
    gateway = Gateway(config)
    exchange = Exchange(market, gateway, config)
    app[_GATEWAY] = gateway
    app[_EXCHANGE] = exchange
    app[APPROVALS] = approvals if approvals is not None else ApprovalKeys()
    app.router.add_post("/oauth2/tokenP", _token)
    app.router.add_post("/oauth2/Approval", functools.partial(approval, gateway))
    app.router.add_post("/uapi/hashkey", functools.partial(hashkey, gateway))
    app.router.add_get("/_admin/health", _admin_health)
    app.router.add_get("/_admin/counters", _admin_counters)
    app.router.add_post("/_admin/tokens/expire", _admin_expire_tokens)
    add_fault_routes(app, market.faults)
    add_book_routes(app, exchange)
    exchange.add_routes(app)
    return app


def gateway_of(app: web.Application) -> Gateway:
    return app[_GATEWAY]


def exchange_of(app: web.Application) -> Exchange:
    return app[_EXCHANGE]


@contextlib.asynccontextmanager
async def running_exchange(market: SimMarket, config: ExchangeConfig | None = None,
                           port: int = 0, *, host: str = "127.0.0.1",
                           ) -> AsyncIterator[tuple[str, web.Application]]:
    """Serve on ``host`` (127.0.0.1; 0.0.0.0 in a container) and ``port`` (0 = a free
    one); yields (base_url, app)."""
    app = build_app(market, config)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}", app
    finally:
        await runner.cleanup()
