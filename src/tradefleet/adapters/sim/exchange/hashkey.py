"""``POST /uapi/hashkey``: KIS's optional anti-tamper hash of an order body. Headers
``appkey``/``appsecret`` (no token); the body is the order JSON; the answer echoes it as
``BODY`` with its ``HASH``, which a client may send back as the ``hashkey`` header (the
simulator, like KIS's own samples, does not require it on orders)."""

from __future__ import annotations

import hashlib
import json

from aiohttp import web

from tradefleet.adapters.sim.exchange.gateway import Gateway
from tradefleet.adapters.sim.exchange.payloads import envelope


async def hashkey(gateway: Gateway, request: web.Request) -> web.Response:
    bad = gateway.check_credentials(request.headers.get("appkey", ""),
                                    request.headers.get("appsecret", ""))
    if bad:
        return web.json_response(envelope(bad, "유효하지 않은 AppKey/AppSecret 입니다.",
                                          rt_cd="1"), status=500)
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return web.json_response(envelope("OPSQ2001", "ERROR : INPUT_FIELD_NAME body "
                                                      "(not JSON)", rt_cd="1"))
    return web.json_response({"BODY": body, "HASH": hashlib.sha256(raw).hexdigest()})
