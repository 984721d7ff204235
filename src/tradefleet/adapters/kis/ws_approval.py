"""The WebSocket approval key (``POST /oauth2/Approval``, body appkey + **secretkey**).

It is issued and shared exactly like the REST access token: ``KisApprovalIssuer`` is the
``issue`` callable of the same providers (``InProcessTokenProvider`` in one process,
``SharedTokenProvider`` through Postgres for the fleet), under its own scope
(``approval_scope``) so it never overwrites the REST token of the same appkey. KIS states no
expiry in the answer; its samples take a new key each day, so a key is held for
``APPROVAL_TTL`` and refreshed ahead of that like a token."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiohttp

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.auth import Credentials, InProcessTokenProvider
from tradefleet.adapters.kis.envelope import parse_envelope
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.token_store import SharedTokenProvider, TokenCipher
from tradefleet.adapters.telemetry.redaction import register_secret
from tradefleet.domain.errors import AuthError, BrokerTimeout, BrokerUnavailable
from tradefleet.ports.tokens import IssuedToken, TokenProvider

APPROVAL_PATH = "/oauth2/Approval"
APPROVAL_TTL = timedelta(hours=24)


def approval_scope(appkey: str) -> str:
    """The key the shared store files the approval key under (hashed there, like a token)."""
    return "ws-approval/" + appkey


class KisApprovalIssuer:
    """``await issuer()`` asks ``/oauth2/Approval`` once."""

    def __init__(self, session: aiohttp.ClientSession, credentials: Credentials, *,
                 timeout_seconds: float = 5.0) -> None:
        self._session = session
        self._cred = credentials
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.issued = 0

    async def __call__(self) -> IssuedToken:
        body = {"grant_type": "client_credentials", "appkey": self._cred.appkey,
                "secretkey": self._cred.appsecret}
        url = self._cred.base_url.rstrip("/") + APPROVAL_PATH
        try:
            async with self._session.post(url, json=body, timeout=self._timeout) as resp:
                status = resp.status
                data = await resp.json(content_type=None)
        except TimeoutError as exc:
            raise BrokerTimeout("approval key issue timed out") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise BrokerUnavailable(f"approval key issue failed: {type(exc).__name__}") \
                from exc
        key = data.get("approval_key") if isinstance(data, dict) else None
        if status != 200 or not isinstance(key, str) or not key.strip():
            env = parse_envelope(status, data)
            raise AuthError(f"approval key refused: HTTP {status} {env.code} {env.message} "
                            "(approval_key missing)")
        register_secret(key.strip())              # masked in every later log line
        self.issued += 1
        return IssuedToken(key.strip(), datetime.now(SEOUL) + APPROVAL_TTL)


def in_process_approval_keys(issuer: KisApprovalIssuer) -> InProcessTokenProvider:
    return InProcessTokenProvider(issuer, refresh_margin=timedelta(hours=1))


def shared_approval_keys(db: Database, *, appkey: str, mode: str, issuer: KisApprovalIssuer,
                         cipher: TokenCipher | None = None) -> TokenProvider:
    """One approval key per appkey for the whole fleet, through the token store."""
    return SharedTokenProvider(db, appkey=approval_scope(appkey), mode=mode, issue=issuer,
                               cipher=cipher, refresh_margin=timedelta(hours=1))
