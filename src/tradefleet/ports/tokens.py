"""Broker access tokens and the per-appkey request budget, as the broker adapter needs them.
Implemented per process (adapters/kis/auth.py) and fleet-wide in Postgres
(adapters/postgres/token_store.py, rate_budget.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime

    def __repr__(self) -> str:      # a traceback must never print a live token
        return f"IssuedToken(token=***, expires_at={self.expires_at.isoformat()})"


class TokenProvider(Protocol):
    async def get(self, force_new: bool = False, *, rejected_token: str | None = None) -> str:
        """A valid access token. ``force_new`` after the broker refused ``rejected_token``
        (EGW00123/EGW00121); a shared provider skips the issuance if another process has
        already replaced that token."""
        ...


class RateLimiter(Protocol):
    async def acquire(self, *, order: bool = False) -> None:
        """Wait until one more request fits in the per-appkey budget (an order may take the
        places reads leave to orders: domain/request_budget.py)."""
        ...
