"""Acting out a fault rule on one HTTP request, in the words KIS uses for each failure.

- latency: wait ``delay``, then serve normally;
- timeout: hold the request ``delay`` (default ``DEFAULT_HANG_SECONDS``, a little longer than
  the KIS client's 5 s timeout) without acting, then answer 504 — bounded, never an hour;
- error: a 5xx without acting; rate_limit: the gateway's EGW00201 (HTTP 500, ``rt_cd`` 1;
  for a token request KIS's own refusal, 403 EGW00133) without acting or taking a slot in the
  rate window; reject: the business rejection (HTTP 200, ``rt_cd`` 1 — 7 for APBK0952, as KIS
  answers short cash) with the rule's code and message, without acting;
- drop_after_accept: act, then cut the connection (the answer is lost);
- hang_after_accept: act, then hold the answer ``delay`` (default ``DEFAULT_HANG_SECONDS``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from tradefleet.adapters.sim.exchange.payloads import envelope
from tradefleet.adapters.sim.faults import Fault

DEFAULT_HANG_SECONDS = 6.0
RATE_LIMITED_MESSAGE = "초당 거래건수를 초과하였습니다."
TOKEN_THROTTLED_MESSAGE = "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)"  # noqa: S105
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Refusals:
    """The answers one kind of endpoint gives when it does not act."""

    rate_limited: Callable[[], web.Response]
    failed: Callable[[], web.Response]
    timed_out: Callable[[], web.Response]
    rejected: Callable[[str, str], web.Response]


def _uapi(code: str, message: str, status: int) -> web.Response:
    return web.json_response(envelope(code, message, rt_cd="1"), status=status)


def _token(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error_code": code, "error_description": message},
                             status=status)


UAPI_REFUSALS = Refusals(
    rate_limited=lambda: _uapi("EGW00201", RATE_LIMITED_MESSAGE, 500),
    failed=lambda: _uapi("EGW00500", "simulated gateway failure", 503),
    timed_out=lambda: _uapi("EGW00504", "simulated gateway timeout", 504),
    rejected=lambda code, message: web.json_response(
        envelope(code, message, rt_cd="7" if code == "APBK0952" else "1")),
)
TOKEN_REFUSALS = Refusals(
    rate_limited=lambda: _token("EGW00133", TOKEN_THROTTLED_MESSAGE, 403),
    failed=lambda: _token("EGW00500", "simulated gateway failure", 500),
    timed_out=lambda: _token("EGW00504", "simulated gateway timeout", 504),
    rejected=lambda code, message: _token(code, message, 403),
)


async def act_out(fault: Fault, request: web.Request, handler: Handler,
                  refusals: Refusals) -> web.StreamResponse:
    hang = DEFAULT_HANG_SECONDS if fault.delay is None else fault.delay
    if fault.kind == "timeout":
        await asyncio.sleep(hang)
        return refusals.timed_out()
    if fault.kind == "hang_after_accept":
        response = await handler(request)
        await asyncio.sleep(hang)
        return response
    if fault.delay:
        await asyncio.sleep(fault.delay)    # latency; or a refusal / drop that comes late
    if fault.kind == "latency":
        return await handler(request)
    if fault.kind == "error":
        return refusals.failed()
    if fault.kind == "rate_limit":
        return refusals.rate_limited()
    if fault.kind == "reject":
        return refusals.rejected(fault.reject_code, fault.reject_message)
    # drop_after_accept
    await handler(request)
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError
