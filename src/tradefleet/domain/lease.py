"""The local lease: may this process send an order right now?

Other workers judge us dead once our heartbeat is older than the lock TTL (database clock)
and then reclaim our locks. So an order is sent only while our last *successful* heartbeat
is younger than the TTL minus a safety margin, measured on the monotonic clock from the
moment that heartbeat was sent (earlier than the database stamped it, so conservative).
A paused, partitioned or database-less process stops sending on its own, before anyone
can have taken its symbols."""

from __future__ import annotations

import time
from collections.abc import Callable


class Lease:
    def __init__(self, ttl_seconds: float, *, margin_seconds: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds: must be > 0, got {ttl_seconds!r}")
        margin = max(1.0, ttl_seconds * 0.25) if margin_seconds is None else margin_seconds
        if not 0 <= margin < ttl_seconds:
            raise ValueError(f"margin_seconds: must be within [0, ttl), got {margin!r}")
        self.ttl_seconds = ttl_seconds
        self.margin_seconds = margin
        self._now = monotonic
        self.epoch: int | None = None
        self._renewed_at: float | None = None

    def grant(self, epoch: int, sent_at: float) -> None:
        """Registration succeeded (it stamps the heartbeat): the lease starts at ``sent_at``."""
        self.epoch = epoch
        self._renewed_at = sent_at

    def renew(self, sent_at: float) -> None:
        """A heartbeat sent at ``sent_at`` (monotonic) was accepted by the database."""
        if self._renewed_at is None or sent_at > self._renewed_at:
            self._renewed_at = sent_at

    def revoke(self) -> None:
        """Fenced or stopping: nothing more is sent by this process."""
        self._renewed_at = None

    def remaining(self) -> float:
        """Seconds left to send orders (<= 0 when lapsed)."""
        if self._renewed_at is None or self.epoch is None:
            return 0.0
        return self.ttl_seconds - self.margin_seconds - (self._now() - self._renewed_at)

    def valid(self) -> bool:
        return self.remaining() > 0

    def age(self) -> float | None:
        """Seconds since the last accepted heartbeat was sent (None before registration)."""
        return None if self._renewed_at is None else self._now() - self._renewed_at
