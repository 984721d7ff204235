"""KIS issues at most one access token a minute per appkey (HTTP 403 ``EGW00133`` past that).

A refused issuance says that someone (this process, another of the fleet, or any other
program using the appkey) got a token less than a minute ago; asking again before the minute
is out is refused too and only spins. So a refusal is remembered for ``THROTTLE_SECONDS``
(per process and, in the fleet, in Postgres), a still-valid token is used meanwhile, and with
no valid token callers get ``TokenIssueThrottled`` naming when to try again."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.errors import AuthError

THROTTLE_SECONDS = 60.0     # KIS: one issuance per minute per appkey (reference/kis-api.md §2)


class TokenIssueThrottled(AuthError):
    """No valid token, and KIS will not issue one before ``retry_at`` (aware, Asia/Seoul).
    ``retry_at`` is None only as the issuer raises it (the provider knows the window)."""

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at

    @classmethod
    def until(cls, retry_in: float, now: datetime, why: str) -> TokenIssueThrottled:
        """The error a provider raises: ``retry_in`` seconds from ``now`` (its clock)."""
        return cls.at(now + timedelta(seconds=max(0.0, retry_in)), why)

    @classmethod
    def at(cls, retry_at: datetime, why: str) -> TokenIssueThrottled:
        at = retry_at.astimezone(SEOUL)
        retry_in = max(0.0, (at - datetime.now(SEOUL)).total_seconds())
        return cls(f"no valid KIS access token and issuance is throttled ({why}; KIS issues "
                   f"one a minute per appkey): retry after {at.isoformat(timespec='seconds')} "
                   f"(in {retry_in:.0f} s)", retry_at=at)

    @property
    def retry_in(self) -> float | None:
        """Seconds from now until ``retry_at`` (never negative), by the wall clock."""
        if self.retry_at is None:
            return None
        return max(0.0, (self.retry_at - datetime.now(SEOUL)).total_seconds())
