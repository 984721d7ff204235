"""A held per-symbol lock. The fencing token grows strictly across the fleet, so any action
taken under a lock can be checked against the token the lock row holds now."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Lock:
    symbol: str
    worker_id: str
    fencing_token: int
    locked_at: datetime
    ttl_seconds: int
    # the worker process epoch that holds it; orders under the lock are refused once the
    # worker row carries a newer epoch (a zombie of an older registration cannot order)
    epoch: int | None = None


_SYMBOL = re.compile(r"^[0-9A-Z]{6}$")
_WORKER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_symbol(symbol: object, field: str = "symbol") -> str:
    """Reject a malformed symbol before any SQL runs, naming the field (nothing is written)."""
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        raise ValueError(f"{field}: expected 6 characters 0-9/A-Z, got {symbol!r}")
    return symbol


def check_worker_id(worker_id: object) -> str:
    if not isinstance(worker_id, str) or not _WORKER_ID.match(worker_id):
        raise ValueError(f"worker_id: expected lowercase [a-z0-9-], 1-63 chars, got {worker_id!r}")
    return worker_id


def check_ttl(ttl_seconds: object, field: str = "ttl_seconds") -> int:
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) \
            or not 1 <= ttl_seconds <= 3600:
        raise ValueError(f"{field}: expected an integer 1..3600 seconds, got {ttl_seconds!r}")
    return ttl_seconds
