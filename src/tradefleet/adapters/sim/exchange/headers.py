"""The response headers KIS puts on every answer, and KIS's JSON envelope where aiohttp
would answer a plain-text error.

Every ``/uapi`` and ``/oauth2`` response carries ``content-type: application/json;
charset=utf-8``, ``tr_id`` (the request's, echoed), ``tr_cont`` (the handler's paging flag;
``D`` when it set none) and ``gt_uid`` (a fresh global transaction id). A path no route serves
(or a method it does not take) answers KIS's envelope with HTTP 404/405, not aiohttp's text;
``/_admin`` keeps aiohttp's own answers (it is ours, not KIS's)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from tradefleet.adapters.sim.exchange.payloads import envelope

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_SUCH_SERVICE = ("OPSQ0002", "없는 서비스 코드 입니다")


def _stamp(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    if resp.prepared:           # a fault that already sent (or cut) its answer
        return resp
    resp.headers["tr_id"] = request.headers.get("tr_id", "")
    resp.headers.setdefault("tr_cont", "D")
    resp.headers["gt_uid"] = uuid.uuid4().hex
    return resp


@web.middleware
async def kis_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_admin"):
        return await handler(request)
    try:
        resp = await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        code, message = NO_SUCH_SERVICE
        resp = web.json_response(
            envelope(code, f"{message} ({request.method} {request.path})", rt_cd="1"),
            status=exc.status)
    return _stamp(request, resp)
