"""One broker access token per appkey for the whole fleet, kept in Postgres.

KIS allows one token issuance per minute per appkey and sends a KakaoTalk alert for each, so
ten workers starting at once must cause exactly one issuance. The first process to find no
valid token takes a transaction-level advisory lock, issues, and stores the token; the others
wait on that lock and then read what it stored. Expiry comes from the broker's
``access_token_token_expired``; tokens are refreshed ``refresh_margin`` ahead of it.
Tokens are stored encrypted when a cipher is given (the Fernet key of the settings).

A refused issuance (EGW00133: someone got a token less than a minute ago) is recorded in
``broker_token_throttles`` (migration 0007) until a minute later by the database clock:
until then no process of the fleet asks, a still-valid stored token is used, and with none
``TokenIssueThrottled`` names the time to retry. A token the broker refused (EGW00123/121)
is marked expired for the whole fleet, so that no process keeps sending it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from tradefleet.adapters.kis.token_throttle import THROTTLE_SECONDS, TokenIssueThrottled
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


@dataclass(frozen=True)
class _Stored:
    """What the fleet holds for an appkey, with times left by the database clock."""
    token: IssuedToken | None
    fresh_for: float          # seconds until the refresh margin (<= 0: refresh due)
    alive_for: float          # seconds until expiry (<= 0: expired)
    throttled_for: float      # seconds until an issuance may be asked (<= 0: now)
    reason: str               # of the hold: 'EGW00133' (refused) or 'same_token'
    db_now: datetime


_STATE = """
    SELECT t.token_cipher, t.expires_at,
           EXTRACT(EPOCH FROM (t.expires_at - clock_timestamp() - $2::interval))::float8
             AS fresh_for,
           EXTRACT(EPOCH FROM (t.expires_at - clock_timestamp()))::float8 AS alive_for,
           EXTRACT(EPOCH FROM (h.throttled_until - clock_timestamp()))::float8
             AS throttled_for,
           h.reason, clock_timestamp() AS db_now
      FROM (SELECT $1::text AS appkey_hash) k
      LEFT JOIN broker_tokens t USING (appkey_hash)
      LEFT JOIN broker_token_throttles h USING (appkey_hash)"""

_HOLD = """
    INSERT INTO broker_token_throttles AS h (appkey_hash, throttled_until, reason, refusals)
    VALUES ($1, clock_timestamp() + make_interval(secs => $2), $3,
            CASE WHEN $3 = 'EGW00133' THEN 1 ELSE 0 END)
    ON CONFLICT (appkey_hash) DO UPDATE SET
      throttled_until = EXCLUDED.throttled_until, reason = EXCLUDED.reason,
      noted_at = clock_timestamp(), refusals = h.refusals + EXCLUDED.refusals"""


_REFUSED_LATELY = "KIS refused an issuance for this appkey (EGW00133) within its window"


class SharedTokenProvider:
    """``await get()`` returns a valid token, issuing one for the fleet only when none is and
    the broker's one-a-minute window allows it."""

    def __init__(
        self, db: Database, *, appkey: str, mode: str,
        issue: Callable[[], Awaitable[IssuedToken]], cipher: TokenCipher | None = None,
        refresh_margin: timedelta = timedelta(minutes=10),
        throttle_seconds: float = THROTTLE_SECONDS,
    ) -> None:
        if throttle_seconds < 0:
            raise ValueError(f"throttle_seconds: must be >= 0, got {throttle_seconds}")
        self._db = db
        self._hash = appkey_hash(appkey)
        self._mode = mode
        self._issue = issue
        self._cipher: TokenCipher = cipher or PlainCipher()
        self._margin = refresh_margin
        self._throttle = throttle_seconds
        self._cached: IssuedToken | None = None
        self._cached_until = 0.0   # time.monotonic() deadline, derived from the DB clock
        self._refused: TokenIssueThrottled | None = None   # no token, throttled: until below
        self._refused_until = 0.0
        self.issued_here = 0
        self.throttled_here = 0    # EGW00133 refusals this process met

    @property
    def expires_at(self) -> datetime | None:
        """Expiry of the token this process last used (KisBroker.authenticate reports it)."""
        return self._cached.expires_at if self._cached is not None else None

    async def get(self, force_new: bool = False, *, rejected_token: str | None = None) -> str:
        """A valid token. ``force_new`` after the broker refused ``rejected_token`` (EGW00123):
        a new one is issued only if no other process has replaced that token already."""
        now = time.monotonic()
        if force_new:
            self._cached = None
        elif self._cached is not None and now < self._cached_until:
            return self._cached.token
        elif self._refused is not None and now < self._refused_until:
            raise self._refused_again()
        else:
            token = self._usable(await self._state(self._db.pool))
            if token is not None:
                return token
            if self._refused is not None:
                raise self._refused_again()
        token, refusal = await self._locked_get(force_new, rejected_token)
        if refusal is not None:
            raise refusal
        assert token is not None
        return token

    async def _locked_get(self, force_new: bool, rejected_token: str | None
                          ) -> tuple[str | None, TokenIssueThrottled | None]:
        """Under the fleet's lock for this appkey: the stored token, or an issuance. What is
        learnt (a dead token, a refusal) is committed before the caller raises."""
        async with self._db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                               "tf_token:" + self._hash)
            state = await self._state(conn)
            if force_new and state.token is not None and state.token.token == rejected_token:
                await conn.execute(     # the broker refused it: no process may send it again
                    "UPDATE broker_tokens SET expires_at = LEAST(expires_at, clock_timestamp())"
                    " WHERE appkey_hash = $1", self._hash)
                state = _Stored(None, 0.0, 0.0, state.throttled_for, state.reason,
                                state.db_now)
            token = self._usable(state)
            if token is not None or self._refused is not None:
                return token, self._refused
            try:
                issued = await self._issue()
            except TokenIssueThrottled:
                self.throttled_here += 1
                await conn.execute(_HOLD, self._hash, self._throttle, "EGW00133")
                return self._usable(await self._state(conn)), self._refused
            same = state.token is not None and issued.token == state.token.token
            await conn.execute(
                """INSERT INTO broker_tokens (appkey_hash, mode, token_cipher, expires_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (appkey_hash) DO UPDATE SET
                     token_cipher = EXCLUDED.token_cipher, expires_at = EXCLUDED.expires_at,
                     mode = EXCLUDED.mode, issued_at = now(),
                     issue_count = broker_tokens.issue_count + 1""",
                self._hash, self._mode, self._cipher.encrypt(issued.token), issued.expires_at)
            self.issued_here += 1
            stored = await self._state(conn)
            if same and stored.fresh_for <= 0:
                # handed back unchanged inside the margin: use it, and ask again a minute on
                await conn.execute(_HOLD, self._hash, self._throttle, "same_token")
                stored = await self._state(conn)
            return self._usable(stored) or issued.token, None

    async def _state(self, conn) -> _Stored:  # noqa: ANN001 - pool or connection
        row = await conn.fetchrow(_STATE, self._hash, self._margin)
        token = None
        if row["token_cipher"] is not None:
            token = IssuedToken(self._cipher.decrypt(row["token_cipher"]), row["expires_at"])
        return _Stored(token, row["fresh_for"] or 0.0, row["alive_for"] or 0.0,
                       row["throttled_for"] or 0.0, row["reason"] or "", row["db_now"])

    def _usable(self, state: _Stored) -> str | None:
        """The token to use now, cached for as long as it stays the right answer; or None
        (an issuance is due, or, with ``self._refused`` set, throttled with no valid token).
        Every deadline is derived from the database clock, then kept on the monotonic one."""
        now = time.monotonic()
        self._refused = None
        if state.token is not None and state.fresh_for > 0:
            self._cached, self._cached_until = state.token, now + state.fresh_for
            return state.token.token
        if state.throttled_for > 0:
            if state.token is not None and state.alive_for > 0:     # due, but not allowed
                self._cached = state.token
                self._cached_until = now + min(state.throttled_for, state.alive_for)
                return state.token.token
            if state.reason != "EGW00133":     # held off only while a token was valid
                return None
            self._refused = TokenIssueThrottled.until(state.throttled_for, state.db_now,
                                                      _REFUSED_LATELY)
            self._refused_until = now + state.throttled_for
        return None

    def _refused_again(self) -> TokenIssueThrottled:
        """A fresh exception (never re-raise one instance: tracebacks would chain)."""
        assert self._refused is not None and self._refused.retry_at is not None
        return TokenIssueThrottled.at(self._refused.retry_at, _REFUSED_LATELY)
