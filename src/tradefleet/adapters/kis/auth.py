"""Access tokens and the request budget, behind small interfaces.

KIS allows one token issuance a minute and counts requests per appkey, so in production both
must be shared by the whole fleet (adapters/postgres/token_store.py, rate_budget.py). The
in-process versions (below, and ``rate_window.py``) are for one process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.envelope import TOKEN_THROTTLED, parse_envelope
from tradefleet.adapters.kis.rate_window import SlidingWindowRateLimiter
from tradefleet.adapters.kis.token_throttle import THROTTLE_SECONDS, TokenIssueThrottled
from tradefleet.domain.errors import AuthError, BrokerTimeout, BrokerUnavailable
from tradefleet.ports.tokens import IssuedToken, RateLimiter, TokenProvider

__all__ = ["Credentials", "InProcessTokenProvider", "IssuedToken", "KisTokenIssuer",
           "RateLimiter", "SlidingWindowRateLimiter", "TokenIssueThrottled", "TokenProvider",
           "parse_kst"]


@dataclass(frozen=True)
class Credentials:
    base_url: str
    appkey: str
    appsecret: str

    def __repr__(self) -> str:      # never print secrets
        return f"Credentials(base_url={self.base_url!r}, appkey=***, appsecret=***)"


def parse_kst(value: str) -> datetime:
    """``access_token_token_expired`` ("YYYY-MM-DD HH:MM:SS", KST) as an aware datetime."""
    return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SEOUL)


class KisTokenIssuer:
    """``await issuer()`` asks ``POST /oauth2/tokenP`` once. Plug it into any provider
    (in-process below, or the fleet-wide Postgres one as its ``issue`` callable)."""

    def __init__(self, session: aiohttp.ClientSession, credentials: Credentials, *,
                 timeout_seconds: float = 5.0) -> None:
        self._session = session
        self._cred = credentials
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def __call__(self) -> IssuedToken:
        body = {"grant_type": "client_credentials", "appkey": self._cred.appkey,
                "appsecret": self._cred.appsecret}
        url = self._cred.base_url.rstrip("/") + "/oauth2/tokenP"
        try:
            async with self._session.post(url, json=body, timeout=self._timeout) as resp:
                status = resp.status
                data = await resp.json(content_type=None)
        except TimeoutError as exc:
            raise BrokerTimeout("token issue timed out") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise BrokerUnavailable(f"token issue failed: {type(exc).__name__}") from exc
        if status != 200 or not isinstance(data, dict) or "access_token" not in data:
            env = parse_envelope(status, data)
            if env.code == TOKEN_THROTTLED:
                raise TokenIssueThrottled(f"token issue refused: HTTP {status} {env.code} "
                                          "(KIS issues one a minute per appkey)")
            raise AuthError(f"token issue refused: HTTP {status} {env.code} {env.message}")
        try:
            expires_at = parse_kst(str(data["access_token_token_expired"]))
        except (KeyError, ValueError) as exc:
            raise AuthError("token issue: access_token_token_expired missing or malformed") \
                from exc
        return IssuedToken(str(data["access_token"]), expires_at)


class InProcessTokenProvider:
    """Caches one token for this process; refreshes ``refresh_margin`` before its stated
    expiry (``access_token_token_expired``, not ``expires_in``). A refused issuance (EGW00133)
    is remembered for ``throttle_seconds``: meanwhile a still-valid token is used and nothing
    is asked; with none, ``TokenIssueThrottled`` says when to retry."""

    def __init__(self, issue: Callable[[], Awaitable[IssuedToken]], *,
                 refresh_margin: timedelta = timedelta(minutes=10),
                 throttle_seconds: float = THROTTLE_SECONDS) -> None:
        if throttle_seconds < 0:
            raise ValueError(f"throttle_seconds: must be >= 0, got {throttle_seconds}")
        self._issue = issue
        self._margin = refresh_margin
        self._throttle = throttle_seconds
        self._token: IssuedToken | None = None
        self._mutex = asyncio.Lock()
        self._next_refresh = 0.0
        self._throttled_until = 0.0  # time.monotonic(): no issuance asked before this
        self.issued = 0              # distinct tokens received
        self.throttled = 0           # issuances refused with EGW00133

    @property
    def expires_at(self) -> datetime | None:
        return self._token.expires_at if self._token else None

    async def get(self, force_new: bool = False, *, rejected_token: str | None = None) -> str:
        async with self._mutex:
            tok = self._token
            if tok is not None and force_new:
                if rejected_token is not None and tok.token != rejected_token:
                    return tok.token             # another task already replaced it
                self._token = tok = None         # the broker refused it: never send it again
            if tok is not None and (datetime.now(SEOUL) < tok.expires_at - self._margin
                                    or time.monotonic() < self._next_refresh):
                return tok.token
            if time.monotonic() < self._throttled_until:
                return self._while_throttled(tok, "KIS refused an issuance (EGW00133) "
                                                  "within the last minute")
            try:
                fresh = await self._issue()
            except TokenIssueThrottled:
                self._throttled_until = time.monotonic() + self._throttle
                self.throttled += 1
                return self._while_throttled(tok, "KIS refused the issuance: EGW00133")
            if tok is None or fresh.token != tok.token:
                self.issued += 1
            elif datetime.now(SEOUL) >= fresh.expires_at - self._margin:
                # the broker handed back the same token: keep using it, ask again later
                self._next_refresh = time.monotonic() + THROTTLE_SECONDS
            self._token = fresh
            return fresh.token

    def _while_throttled(self, tok: IssuedToken | None, why: str) -> str:
        """The still-valid token while issuance is throttled, else a dated refusal."""
        if tok is not None and datetime.now(SEOUL) < tok.expires_at:
            return tok.token
        raise TokenIssueThrottled.until(self._throttled_until - time.monotonic(),
                                        datetime.now(SEOUL), why)
