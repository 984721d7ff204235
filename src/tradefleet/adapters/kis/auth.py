"""Access tokens and the request budget, behind small interfaces.

KIS allows one token issuance a minute and counts requests per appkey, so in production both
must be shared by the whole fleet (the lead plugs Postgres-backed versions in here). The
in-process versions below are for one process."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.envelope import TOKEN_THROTTLED, parse_envelope
from tradefleet.domain.errors import AuthError, BrokerTimeout, BrokerUnavailable
from tradefleet.ports.tokens import IssuedToken, RateLimiter, TokenProvider

__all__ = ["Credentials", "InProcessTokenProvider", "IssuedToken", "KisTokenIssuer",
           "RateLimiter", "SlidingWindowRateLimiter", "TokenProvider", "parse_kst"]


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
            hint = " (KIS allows one issuance a minute)" if env.code == TOKEN_THROTTLED else ""
            raise AuthError(f"token issue refused: HTTP {status} {env.code} {env.message}{hint}")
        try:
            expires_at = parse_kst(str(data["access_token_token_expired"]))
        except (KeyError, ValueError) as exc:
            raise AuthError("token issue: access_token_token_expired missing or malformed") \
                from exc
        return IssuedToken(str(data["access_token"]), expires_at)


class InProcessTokenProvider:
    """Caches one token for this process; refreshes ``refresh_margin`` before its stated
    expiry (``access_token_token_expired``, not ``expires_in``)."""

    def __init__(self, issue: Callable[[], Awaitable[IssuedToken]], *,
                 refresh_margin: timedelta = timedelta(minutes=10)) -> None:
        self._issue = issue
        self._margin = refresh_margin
        self._token: IssuedToken | None = None
        self._mutex = asyncio.Lock()
        self._next_refresh = 0.0
        self.issued = 0              # distinct tokens received

    @property
    def expires_at(self) -> datetime | None:
        return self._token.expires_at if self._token else None

    async def get(self, force_new: bool = False, *, rejected_token: str | None = None) -> str:
        async with self._mutex:
            tok = self._token
            if tok is not None and force_new and rejected_token is not None \
                    and tok.token != rejected_token:
                return tok.token                 # another task already replaced it
            if tok is not None and not force_new and (
                    datetime.now(SEOUL) < tok.expires_at - self._margin
                    or time.monotonic() < self._next_refresh):
                return tok.token
            fresh = await self._issue()
            if tok is None or fresh.token != tok.token:
                self.issued += 1
            elif datetime.now(SEOUL) >= fresh.expires_at - self._margin:
                # the broker handed back the same token: keep using it, ask again later
                self._next_refresh = time.monotonic() + 60.0
            self._token = fresh
            return fresh.token


class SlidingWindowRateLimiter:
    """At most ``per_second`` acquisitions in any window of 1 s + ``margin``. KIS counts
    arrivals in a sliding second; the margin absorbs the jitter between our grant and the
    request's arrival, which would otherwise put ``per_second + 1`` in the broker's window."""

    def __init__(self, per_second: int, *, margin: float = 0.1) -> None:
        if per_second < 1:
            raise ValueError(f"per_second: must be >= 1, got {per_second}")
        if margin < 0:
            raise ValueError(f"margin: must be >= 0, got {margin}")
        self.per_second = per_second
        self._window = 1.0 + margin
        self._stamps: deque[float] = deque()
        self._mutex = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._mutex:
            while True:
                now = time.monotonic()
                while self._stamps and now - self._stamps[0] >= self._window:
                    self._stamps.popleft()
                if len(self._stamps) < self.per_second:
                    self._stamps.append(now)
                    return
                await asyncio.sleep(self._window - (now - self._stamps[0]) + 0.001)
