"""Error types the worker reacts to. Adapters translate their failures into these."""

from __future__ import annotations


class WorkerError(Exception):
    """Base of every error the worker handles by policy rather than by crashing."""


class ConfigError(WorkerError):
    """Configuration is missing or invalid; the message names every bad field."""


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
