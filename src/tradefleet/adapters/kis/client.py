"""One KIS REST call with the error policy applied.

- the body is checked (``rt_cd``/``msg_cd``), never only the HTTP status;
- EGW00201 (rate limit) on a read: wait and retry within ``rate_limit_budget_seconds``;
- EGW00123/EGW00121 (token expired/invalid): re-issue once and retry (the gateway refuses
  before the request is routed, so this is safe even for orders);
- an ORDER POST that times out, breaks, gets a 5xx or is rate limited may have reached the
  exchange: ``AmbiguousOrderOutcome``, never resent;
- reads that fail in transport: ``BrokerTimeout`` / ``BrokerUnavailable``.
"""

from __future__ import annotations

import asyncio
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
from tradefleet.domain.errors import (
    AmbiguousOrderOutcome,
    AuthError,
    BrokerTimeout,
    BrokerUnavailable,
    RateLimited,
)

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
    custtype: str = "P"

    def __post_init__(self) -> None:
        if self.mode not in ("real", "paper"):
            raise ValueError(f"mode: must be 'real' or 'paper', got {self.mode!r}")
        if not (len(self.cano) == 8 and self.cano.isdigit()):
            raise ValueError("cano: must be 8 digits")
        if not (len(self.product_code) == 2 and self.product_code.isdigit()):
            raise ValueError("product_code: must be 2 digits")
        if not self.appkey or not self.appsecret:
            raise ValueError("appkey/appsecret: must not be empty")

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

    def tr(self, tr_id: str) -> str:
        return tr_ids.for_mode(tr_id, self.config.mode)

    async def call(self, method: str, path: str, tr_id: str, *,
                   params: dict[str, str] | None = None, body: dict[str, str] | None = None,
                   tr_cont: str = "", is_order: bool = False) -> Envelope:
        """Send one request (retrying per the policy above); returns a successful envelope
        or a business rejection (``ok`` False) for the caller to map."""
        deadline = time.monotonic() + self.config.rate_limit_budget_seconds
        reissued = False
        rejected: str | None = None
        while True:
            if rejected is None:
                token = await self._tokens.get()
            else:
                token = await self._tokens.get(force_new=True, rejected_token=rejected)
            rejected = None
            try:
                await self._limiter.acquire()
            except TimeoutError as exc:
                raise RateLimited(f"{tr_id}: no request budget granted in time") from exc
            env = await self._send(method, path, self.tr(tr_id), token, params, body, tr_cont,
                                   is_order)
            if env.code in TOKEN_CODES:
                if reissued:
                    raise AuthError(f"{env.code}: token refused again after re-issue")
                reissued, rejected = True, token
                continue
            if env.code == RATE_LIMITED:
                if is_order:
                    raise AmbiguousOrderOutcome(
                        "EGW00201 on an order POST: reconcile before any retry")
                if time.monotonic() >= deadline:
                    raise RateLimited("EGW00201: per-second budget exhausted past the wait budget")
                await asyncio.sleep(0.2)
                continue
            if is_order and not env.body:
                raise AmbiguousOrderOutcome(
                    f"order POST got HTTP {env.http_status} without a KIS body")
            if env.http_status >= 500 or (env.http_status >= 400 and not env.code):
                if is_order:
                    raise AmbiguousOrderOutcome(f"order POST got HTTP {env.http_status}")
                raise BrokerUnavailable(f"HTTP {env.http_status} {env.code} {env.message}")
            return env

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
        url = self.config.base_url.rstrip("/") + tr_ids.PREFIX + path
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
