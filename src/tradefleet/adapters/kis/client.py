"""One KIS REST call with the error policy applied.

- the body is checked (``rt_cd``/``msg_cd``), never only the HTTP status;
- EGW00201 (rate limit) on a read: wait and retry within ``rate_limit_budget_seconds``,
  then ``RateLimited``;
- EGW00201 on an ORDER POST: the gateway answers it before the order system sees the
  request, so nothing was placed: the SAME request is sent again after a pause, at most
  ``order_rate_limit_retries`` times within ``order_rate_limit_budget_seconds``, then
  ``RateLimited`` (definite: nothing at the exchange), never ``AmbiguousOrderOutcome``;
- EGW00123/EGW00121 (token expired/invalid): re-issue once and retry (the gateway refuses
  before the request is routed, so this is safe even for orders);
- an ORDER POST that times out, breaks, or gets any other 5xx may have reached the exchange:
  ``AmbiguousOrderOutcome``, never resent;
- reads that fail in transport: ``BrokerTimeout`` / ``BrokerUnavailable``.

Every send holds a place in the request budget until its answer when the limiter can count
that way (``rate_window.AnsweredSlots``), else from its grant.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from tradefleet.adapters.kis import tr_ids
from tradefleet.adapters.kis.auth import RateLimiter, TokenProvider
from tradefleet.adapters.kis.envelope import (
    RATE_LIMITED,
    TOKEN_CODES,
    Envelope,
    parse_envelope,
)
from tradefleet.adapters.kis.rate_window import AnsweredSlots
from tradefleet.adapters.telemetry.redaction import register_secret
from tradefleet.adapters.telemetry.tracing import tracing_on
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    AuthError,
    BrokerTimeout,
    BrokerUnavailable,
    RateLimited,
)
from tradefleet.ports.wire_gate import check_wire_gate

_tracer = trace.get_tracer("tradefleet.kis")


@dataclass(frozen=True)
class KisConfig:
    base_url: str
    appkey: str
    appsecret: str
    cano: str                       # 8 digits
    product_code: str = "01"        # 2 digits
    mode: str = "real"              # "real" | "paper"
    timeout_seconds: float = 5.0
    rate_limit_budget_seconds: float = 3.0
    order_rate_limit_retries: int = 3           # resends of an order POST refused EGW00201
    order_rate_limit_budget_seconds: float = 1.5
    custtype: str = "P"
    # sent as X-Tradefleet-Worker to the exchange simulator only (its per-worker fault rules);
    # never set against KIS
    simulator_worker_tag: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("real", "paper"):
            raise ValueError(f"mode: must be 'real' or 'paper', got {self.mode!r}")
        if not (len(self.cano) == 8 and self.cano.isdigit()):
            raise ValueError("cano: must be 8 digits")
        if not (len(self.product_code) == 2 and self.product_code.isdigit()):
            raise ValueError("product_code: must be 2 digits")
        if not self.appkey or not self.appsecret:
            raise ValueError("appkey/appsecret: must not be empty")
        if self.order_rate_limit_retries < 0:
            raise ValueError("order_rate_limit_retries: must be >= 0, got "
                             f"{self.order_rate_limit_retries}")
        if not self.order_rate_limit_budget_seconds >= 0:
            raise ValueError("order_rate_limit_budget_seconds: must be >= 0, got "
                             f"{self.order_rate_limit_budget_seconds}")

    def __repr__(self) -> str:      # never print secrets or the account number
        return f"KisConfig(base_url={self.base_url!r}, mode={self.mode!r}, cano=****)"


class KisClient:
    def __init__(self, config: KisConfig, session: aiohttp.ClientSession,
                 token_provider: TokenProvider, rate_limiter: RateLimiter) -> None:
        self.config = config
        self._session = session
        self._tokens = token_provider
        self._limiter = rate_limiter
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
        self._registered_token: str | None = None

    def tr(self, tr_id: str) -> str:
        return tr_ids.for_mode(tr_id, self.config.mode)

    async def call(self, method: str, path: str, tr_id: str, *,
                   params: dict[str, str] | None = None, body: dict[str, str] | None = None,
                   tr_cont: str = "", is_order: bool = False) -> Envelope:
        """Send one request (retrying per the policy above); returns a successful envelope
        or a business rejection (``ok`` False) for the caller to map."""
        started = time.monotonic()
        order_refusals: list[float] = []      # when the gateway refused an order POST
        reissued = False
        rejected: str | None = None
        while True:
            if rejected is None:
                token = await self._tokens.get()
            else:
                token = await self._tokens.get(force_new=True, rejected_token=rejected)
            rejected = None
            if token != self._registered_token:        # masked in every later log line
                register_secret(token)
                self._registered_token = token
            # a resend of a refused order waits for the budget only within the resend budget
            wait_until = (order_refusals[0] + self.config.order_rate_limit_budget_seconds
                          if order_refusals else None)
            env = await self._send_in_budget(method, path, tr_id, token, params, body,
                                             tr_cont, is_order, wait_until)
            if env.code in TOKEN_CODES:
                if reissued:
                    raise AuthError(f"{env.code}: token refused again after re-issue")
                reissued, rejected = True, token
                continue
            if env.code == RATE_LIMITED:
                if is_order:
                    order_refusals.append(time.monotonic())
                    await self._order_rate_limit_pause(tr_id, order_refusals)
                else:
                    await self._read_rate_limit_pause(started)
                continue
            if is_order and not env.body:
                raise AmbiguousOrderOutcome(
                    f"order POST got HTTP {env.http_status} without a KIS body")
            if env.http_status >= 500 or (env.http_status >= 400 and not env.code):
                if is_order:
                    raise AmbiguousOrderOutcome(f"order POST got HTTP {env.http_status}")
                raise BrokerUnavailable(f"HTTP {env.http_status} {env.code} {env.message}")
            return env

    async def _read_rate_limit_pause(self, started: float) -> None:
        if time.monotonic() >= started + self.config.rate_limit_budget_seconds:
            raise RateLimited("EGW00201: per-second budget exhausted past the wait budget")
        await asyncio.sleep(0.2)

    async def _order_rate_limit_pause(self, tr_id: str, refusals: list[float]) -> None:
        """Before resending an order POST refused with EGW00201. The pauses spread the
        resends over the budget (counted from the first refusal), so that the last one comes
        most of the budget later; past the retries or the budget the order is not placed."""
        budget = self.config.order_rate_limit_budget_seconds
        retries = self.config.order_rate_limit_retries
        pause = budget / (retries + 1)
        if len(refusals) > retries or time.monotonic() + pause > refusals[0] + budget:
            raise RateLimited(
                f"{tr_id}: EGW00201 on an order POST {len(refusals)} time(s) within "
                f"{budget:g} s; the gateway refused it before the order system: nothing "
                "reached the exchange")
        await asyncio.sleep(pause)

    async def _send_in_budget(self, method: str, path: str, tr_id: str, token: str,
                              params: dict[str, str] | None, body: dict[str, str] | None,
                              tr_cont: str, is_order: bool, wait_until: float | None) -> Envelope:
        """One send holding its place in the request budget (until its answer if the
        limiter counts that way), waiting for that place until ``wait_until`` at most."""
        wait = None if wait_until is None else max(0.0, wait_until - time.monotonic())
        async with contextlib.AsyncExitStack() as held:
            try:
                async with asyncio.timeout(wait):
                    if isinstance(self._limiter, AnsweredSlots):
                        await held.enter_async_context(self._limiter.slot(order=is_order))
                    else:
                        await self._limiter.acquire(order=is_order)
            except TimeoutError as exc:
                raise RateLimited(f"{tr_id}: no request budget granted in time; nothing "
                                  "reached the exchange") from exc
            if is_order:
                check_wire_gate()       # the waits above may have outlived the caller's lease
            return await self._send(method, path, self.tr(tr_id), token, params, body,
                                    tr_cont, is_order)

    async def _send(self, method: str, path: str, tr_id: str, token: str,
                    params: dict[str, str] | None, body: dict[str, str] | None, tr_cont: str,
                    is_order: bool) -> Envelope:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {token}",
            "appkey": self.config.appkey,
            "appsecret": self.config.appsecret,
            "tr_id": tr_id,
            "custtype": self.config.custtype,
            "tr_cont": tr_cont,
        }
        if self.config.simulator_worker_tag:
            headers["X-Tradefleet-Worker"] = self.config.simulator_worker_tag
        url = self.config.base_url.rstrip("/") + tr_ids.PREFIX + path
        if not tracing_on():        # the span would be a no-op and inject would add nothing
            return await self._request(method, url, tr_id, params, body, headers, is_order)
        with _tracer.start_as_current_span(f"KIS {method} {path}", kind=SpanKind.CLIENT,
                                           attributes={"kis.tr_id": tr_id,
                                                       "http.request.method": method,
                                                       "url.path": tr_ids.PREFIX + path}):
            _inject_trace(headers)
            return await self._request(method, url, tr_id, params, body, headers, is_order)

    async def _request(self, method: str, url: str, tr_id: str,
                       params: dict[str, str] | None, body: dict[str, str] | None,
                       headers: dict[str, str], is_order: bool) -> Envelope:
        try:
            async with self._session.request(method, url, params=params, json=body,
                                             headers=headers, timeout=self._timeout) as resp:
                status = resp.status
                trace.get_current_span().set_attribute("http.response.status_code", status)
                cont = resp.headers.get("tr_cont", "")
                try:
                    data: Any = await resp.json(content_type=None)
                except ValueError:
                    data = None
        except aiohttp.ClientConnectorError as exc:
            # the connection was never made: nothing can have reached the exchange
            raise BrokerUnavailable(f"{tr_id}: cannot connect ({type(exc).__name__})") from exc
        except TimeoutError as exc:
            if is_order:
                raise AmbiguousOrderOutcome(f"{tr_id}: order POST timed out") from exc
            raise BrokerTimeout(f"{tr_id}: timed out") from exc
        except aiohttp.ClientError as exc:
            if is_order:
                raise AmbiguousOrderOutcome(
                    f"{tr_id}: order POST broke ({type(exc).__name__})") from exc
            raise BrokerUnavailable(f"{tr_id}: {type(exc).__name__}") from exc
        return parse_envelope(status, data, cont)


def _inject_trace(headers: dict[str, str]) -> None:
    """W3C traceparent of the current span, so the simulator's spans join our trace."""
    try:
        from opentelemetry import propagate
    except ImportError:             # pragma: no cover - opentelemetry-api is a dependency
        return
    propagate.inject(headers)
