"""Where one account's shared scan results are kept: one claimed row per (scan key, quote
window); the claimer fills it in, everyone else reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class LatestScan:
    window: int
    result: dict[str, Any] | None     # None: claimed, not computed yet
    claim_live: bool                  # the claim has not expired (database clock)


@runtime_checkable
class SharedScanStore(Protocol):
    async def claim(self, key: str, window: int, claimer: str, ttl_s: float) -> bool:
        """Take the (key, window) computation: True when it was free, or its previous claim
        expired (by the database clock) without a result."""
        ...

    async def latest(self, key: str) -> LatestScan | None:
        """The newest row of ``key``: a result, or a claim still being computed."""
        ...

    async def publish(self, key: str, window: int, claimer: str,
                      result: dict[str, Any]) -> bool:
        """Fill in our claimed row; False when our claim had expired and someone else's
        result (or claim) stands."""
        ...

    async def release(self, key: str, window: int, claimer: str) -> None:
        """Give an unfinished claim back (our computation failed)."""
        ...
