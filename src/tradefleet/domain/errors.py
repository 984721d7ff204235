"""Error types the worker reacts to. Adapters translate their failures into these."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


class WorkerError(Exception):
    """Base of every error the worker handles by policy rather than by crashing."""


class ConfigError(WorkerError):
    """Configuration is missing or invalid; the message names every bad field."""


class DatabaseUnreachable(ConfigError):
    """The database named by db.dsn did not answer within the start-up wait (down, a
    failover, or a wrong host): a ConfigError, so every command ends with one clear line."""


class BrokerError(WorkerError):
    """A broker call failed."""


class BrokerTimeout(BrokerError):
    """The broker did not answer in time (EC-001). Safe to retry for reads only."""


class BrokerUnavailable(BrokerError):
    """Transport failure or 5xx that is not a rate limit. Safe to retry for reads only."""


class RateLimited(BrokerError):
    """The broker's per-second budget is exhausted (KIS EGW00201)."""


class AuthError(BrokerError):
    """Credentials were refused or a token could not be issued."""


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


class OrderRejected(BrokerError):
    """The broker refused the order for a business reason (EC-002); nothing is at the exchange."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AmbiguousOrderOutcome(BrokerError):
    """An order POST may or may not have reached the exchange. Never resend; reconcile."""


class SendRefused(WorkerError):
    """This process may not send an order now (its lease lapsed, or the lock or epoch the row
    was written under is no longer current). Raised before any byte is sent: definite."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LockLost(WorkerError):
    """This worker no longer holds the lock (reclaimed or fenced); it must not trade the symbol."""


class Fenced(WorkerError):
    """The worker row was taken over (EXIT or newer epoch); this process must stop trading."""
