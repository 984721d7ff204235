"""One broker access token per appkey for the whole fleet, kept in Postgres.

KIS allows one token issuance per minute per appkey and sends a KakaoTalk alert for each, so
ten workers starting at once must cause exactly one issuance. The first process to find no
valid token takes a transaction-level advisory lock, issues, and stores the token; the others
wait on that lock and then read what it stored. Expiry comes from the broker's
``access_token_token_expired``; tokens are refreshed ``refresh_margin`` ahead of it.
Tokens are stored encrypted when a cipher is given (the Fernet key of the settings).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.tokens import IssuedToken

__all__ = ["IssuedToken", "PlainCipher", "SharedTokenProvider", "TokenCipher", "appkey_hash"]


class TokenCipher(Protocol):
    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, ciphertext: str) -> str: ...


class PlainCipher:
    """For sim mode only: the token is a simulator token with no value outside this machine."""

    def encrypt(self, plaintext: str) -> str:
        return "plain:" + plaintext

    def decrypt(self, ciphertext: str) -> str:
        return ciphertext.removeprefix("plain:")


def appkey_hash(appkey: str) -> str:
    return hashlib.sha256(appkey.encode()).hexdigest()


class SharedTokenProvider:
    """``await get()`` returns a valid token, issuing one for the fleet only when none is."""

    def __init__(
        self, db: Database, *, appkey: str, mode: str,
        issue: Callable[[], Awaitable[IssuedToken]], cipher: TokenCipher | None = None,
        refresh_margin: timedelta = timedelta(minutes=10),
    ) -> None:
        self._db = db
        self._hash = appkey_hash(appkey)
        self._mode = mode
        self._issue = issue
        self._cipher: TokenCipher = cipher or PlainCipher()
        self._margin = refresh_margin
        self._cached: IssuedToken | None = None
        self._cached_until = 0.0   # time.monotonic() deadline, derived from the DB clock
        self.issued_here = 0

    @property
    def expires_at(self) -> datetime | None:
        """Expiry of the token this process last used (KisBroker.authenticate reports it)."""
        return self._cached.expires_at if self._cached is not None else None

    async def get(self, force_new: bool = False, *, rejected_token: str | None = None) -> str:
        """A valid token. ``force_new`` after the broker refused ``rejected_token`` (EGW00123):
        a new one is issued only if no other process has replaced that token already."""
        if force_new:
            self._cached = None
        elif self._cached is not None and time.monotonic() < self._cached_until:
            return self._cached.token
        else:
            stored = await self._read(self._db.pool)
            if stored is not None and await self._remember(stored, self._db.pool):
                return stored.token
        async with self._db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                               "tf_token:" + self._hash)
            stored = await self._read(conn)
            if stored is not None and not (force_new and stored.token == rejected_token) \
                    and await self._remember(stored, conn):
                return stored.token
            issued = await self._issue()
            await conn.execute(
                """INSERT INTO broker_tokens (appkey_hash, mode, token_cipher, expires_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (appkey_hash) DO UPDATE SET
                     token_cipher = EXCLUDED.token_cipher, expires_at = EXCLUDED.expires_at,
                     mode = EXCLUDED.mode, issued_at = now(),
                     issue_count = broker_tokens.issue_count + 1""",
                self._hash, self._mode, self._cipher.encrypt(issued.token), issued.expires_at)
            self.issued_here += 1
            await self._remember(issued, conn)
            return issued.token

    async def _read(self, conn) -> IssuedToken | None:  # noqa: ANN001 - pool or connection
        row = await conn.fetchrow(
            "SELECT token_cipher, expires_at FROM broker_tokens WHERE appkey_hash = $1",
            self._hash)
        if row is None:
            return None
        return IssuedToken(self._cipher.decrypt(row["token_cipher"]), row["expires_at"])

    async def _remember(self, token: IssuedToken, conn) -> bool:  # noqa: ANN001
        """Cache ``token`` if it is valid beyond the margin, judged by the database clock;
        the cache deadline is then kept on the monotonic clock, immune to wall-clock jumps."""
        remaining = await conn.fetchval(
            "SELECT EXTRACT(EPOCH FROM ($1::timestamptz - now() - $2::interval))::float8",
            token.expires_at, self._margin)
        if remaining <= 0:
            return False
        self._cached = token
        self._cached_until = time.monotonic() + remaining
        return True
