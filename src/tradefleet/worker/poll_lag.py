"""How far the session clock moves during one poll of this worker (its lag, in session
seconds). In a compressed session, a poll that takes one real second on a crowded machine
is ten session minutes at 600x: decisions are then made on a stale clock. The lag is written
to Postgres (at most every ``write_every_s`` real seconds, the largest since the last write)
so the process that sets the session's pace can slow it down."""

from __future__ import annotations

import time
from datetime import datetime

import structlog

from tradefleet.adapters.postgres.poll_lag_store import PostgresPollLagStore

WRITE_EVERY_S = 0.5


class PollLagMeter:
    def __init__(self, store: PostgresPollLagStore, worker_id: str, *,
                 write_every_s: float = WRITE_EVERY_S) -> None:
        self._store = store
        self._worker_id = worker_id
        self._every = write_every_s
        self.polls = 0
        self.max_lag_s = 0.0
        self._recent_max = 0.0
        self._last_write = float("-inf")
        self._failing = False
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=worker_id)

    async def observe(self, started: datetime, ended: datetime) -> None:
        """One poll's session times at its start and end. A failed write is only logged:
        the measurement must never stop trading."""
        lag = max(0.0, (ended - started).total_seconds())
        self.polls += 1
        self.max_lag_s = max(self.max_lag_s, lag)
        self._recent_max = max(self._recent_max, lag)
        now = time.monotonic()
        if now - self._last_write < self._every:
            return
        try:
            await self._store.record(self._worker_id, ended.date(), polls=self.polls,
                                     recent_max_lag_s=self._recent_max,
                                     max_lag_s=self.max_lag_s, last_poll_at=ended)
        except Exception as exc:  # noqa: BLE001 - the database may be away; polls go on
            if not self._failing:           # once per outage, not once per poll
                self._log.warning("poll lag not recorded", error_type=type(exc).__name__,
                                  error=str(exc))
            self._failing = True
            return
        self._failing = False
        self._last_write = now
        self._recent_max = 0.0
