"""``POST /oauth2/Approval``: the WebSocket approval key, as KIS issues it (body appkey +
``secretkey``; errors in the ``/oauth2`` envelope). The keys issued here are what the
simulator's WebSocket server (``ws_server.py``) accepts, each tied to its appkey."""

from __future__ import annotations

import secrets
import threading
from collections import Counter

from aiohttp import web

from tradefleet.adapters.sim.exchange.gateway import Gateway


class ApprovalKeys:
    def __init__(self) -> None:
        self._appkey_of: dict[str, str] = {}
        self._mutex = threading.Lock()
        self.issued: Counter[str] = Counter()          # appkey -> issuances

    def issue(self, appkey: str) -> str:
        with self._mutex:
            key = secrets.token_hex(143)[:286]     # KIS keys are long opaque strings
            self._appkey_of[key] = appkey
            self.issued[appkey] += 1
            return key

    def appkey_of(self, approval_key: str) -> str | None:
        with self._mutex:
            return self._appkey_of.get(approval_key)

    def revoke_all(self) -> int:
        with self._mutex:
            n = len(self._appkey_of)
            self._appkey_of.clear()
            return n


APPROVALS = web.AppKey("approvals", ApprovalKeys)


async def client_credentials(gateway: Gateway, request: web.Request, secret_field: str,
                             secret_name: str) -> tuple[str, web.Response | None]:
    """The appkey of a ``client_credentials`` body (the token's and the approval key's), or
    KIS's refusal: EGW00002 for a bad grant, the gateway's code for bad credentials."""
    try:
        body = await request.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
        return "", web.json_response({"error_code": "EGW00002",
                                      "error_description": "grant_type: client_credentials"},
                                     status=403)
    appkey, secret = str(body.get("appkey", "")), str(body.get(secret_field, ""))
    bad = gateway.check_credentials(appkey, secret)
    if bad:
        return appkey, web.json_response(
            {"error_code": bad, "error_description": f"유효하지 않은 AppKey/{secret_name} 입니다."},
            status=403)
    return appkey, None


async def approval(gateway: Gateway, request: web.Request) -> web.Response:
    appkey, refused = await client_credentials(gateway, request, "secretkey", "SecretKey")
    if refused is not None:
        return refused
    return web.json_response({"approval_key": request.app[APPROVALS].issue(appkey)})
