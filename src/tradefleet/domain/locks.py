"""A held per-symbol lock. The fencing token grows strictly across the fleet, so any action
taken under a lock can be checked against the token the lock row holds now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Lock:
    symbol: str
    worker_id: str
    fencing_token: int
    locked_at: datetime
    ttl_seconds: int
