"""The pace of a compressed session: the speed is chosen, and lowered, so that one poll of
any worker lasts at most ``lag_limit_s`` session seconds.

A compressed day outruns a crowded machine: with 20 workers on 2 cores a poll took 5 real
seconds, 50 session minutes at 600x, and an entry decided at 15:14 reached the exchange
after the close. The start speed is derived from the worker count (a poll's CPU times the
workers per core must fit the limit), then the workers' measured poll lag (``poll_lags``,
session time at the start and end of each poll) lowers it through the shared clock's start
file whenever the limit is passed. When even the slowest speed allowed cannot keep the lag
under the limit, the pacer says so."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime

from tradefleet.adapters.clock import SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.poll_lag_store import fleet_lag

POLL_CPU_S = 0.05          # CPU seconds of one worker's poll (shared scan), with margin
LOOK_BACK_S = 1.0          # real seconds of lag reports the pacer looks at
SETTLE_S = 2.0             # real seconds after a change before the lag is judged again
SLOW_MARGIN = 0.6          # a slowed speed aims at this share of the limit


@dataclass(frozen=True)
class PacePolicy:
    lag_limit_s: float = 120.0       # session seconds one poll may last
    min_speed: float = 10.0          # slower than this the fleet is said not to keep up

    def __post_init__(self) -> None:
        if not self.lag_limit_s > 0:
            raise ValueError(f"lag_limit_s: must be > 0, got {self.lag_limit_s!r}")
        if not self.min_speed > 0:
            raise ValueError(f"min_speed: must be > 0, got {self.min_speed!r}")


def start_speed(requested: float, workers: int, cores: int | None = None, *,
                policy: PacePolicy = PacePolicy()) -> float:
    """The requested speed, or less: when every worker polls at once, a poll lasts about
    workers x POLL_CPU_S / cores real seconds, which must stay within half the limit."""
    cores = cores or os.cpu_count() or 1
    real_poll_s = max(1, workers) * POLL_CPU_S / cores
    fits = policy.lag_limit_s / 2 / real_poll_s
    return float(max(policy.min_speed, min(requested, round(fits))))


@dataclass
class SpeedChange:
    session_at: datetime
    from_speed: float
    to_speed: float
    lag_s: float                     # the poll lag (session seconds) that called for it


@dataclass
class SessionPacer:
    db: Database
    clock: SimClock
    policy: PacePolicy = field(default_factory=PacePolicy)
    changes: list[SpeedChange] = field(default_factory=list)
    max_lag_s: float = 0.0           # the largest poll lag seen, any worker, any time
    settled_max_lag_s: float = 0.0   # the largest seen since the last speed change settled
    over_limit_looks: int = 0        # looks at which the lag was over the limit at min speed
    _settled_at: float = 0.0

    async def check(self) -> SpeedChange | None:
        """Look at the fleet's recent poll lag; lower the speed when it passes the limit."""
        day = self.clock.now().date()
        lag = await fleet_lag(self.db, day, look_back_s=LOOK_BACK_S)
        self.max_lag_s = max(self.max_lag_s, lag.recent_max_s)
        if time.monotonic() < self._settled_at:
            return None
        speed = self.clock.speed
        if lag.recent_max_s <= self.policy.lag_limit_s or speed <= self.policy.min_speed:
            self.settled_max_lag_s = max(self.settled_max_lag_s, lag.recent_max_s)
            if lag.recent_max_s > self.policy.lag_limit_s:
                self.over_limit_looks += 1
            return None
        slower = max(self.policy.min_speed,
                     speed * self.policy.lag_limit_s * SLOW_MARGIN / lag.recent_max_s)
        effective = self.clock.retime(slower)
        self._settled_at = time.monotonic() + (effective - time.time()) + SETTLE_S
        change = SpeedChange(self.clock.now(), speed, slower, lag.recent_max_s)
        self.changes.append(change)
        self.settled_max_lag_s = 0.0
        return change

    @property
    def kept_up(self) -> bool:
        return self.over_limit_looks == 0

    def verdict(self) -> str:
        limit_min = self.policy.lag_limit_s / 60
        if not self.kept_up:
            return (f"the fleet could not keep up: a poll lasted up to "
                    f"{self.max_lag_s / 60:.1f} session minutes even at "
                    f"{self.policy.min_speed:g}x (limit {limit_min:g}); decisions were made on "
                    "a stale clock. Run fewer workers or a lower --speed.")
        slowed = "" if not self.changes else (
            f"; slowed {len(self.changes)}x to {self.changes[-1].to_speed:.0f}x")
        return (f"pace kept: longest poll {self.settled_max_lag_s / 60:.2f} session minutes "
                f"since the last change (limit {limit_min:g}){slowed}")
