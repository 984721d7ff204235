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
CALM_SHARE = 0.3           # a lag under this share of the limit for CALM_S lets it speed up
CALM_S = 4.0
SPEED_UP = 1.5
BEHIND_S = 10.0            # over the limit at the slowest speed this long: cannot keep up


@dataclass(frozen=True)
class PacePolicy:
    lag_limit_s: float = 300.0       # session seconds one poll may last
    min_speed: float = 10.0          # slower than this the fleet is said not to keep up

    def __post_init__(self) -> None:
        if not self.lag_limit_s > 0:
            raise ValueError(f"lag_limit_s: must be > 0, got {self.lag_limit_s!r}")
        if not self.min_speed > 0:
            raise ValueError(f"min_speed: must be > 0, got {self.min_speed!r}")


def start_speed(requested: float, workers: int, cores: int | None = None, *,
                policy: PacePolicy = PacePolicy()) -> float:
    """The requested speed, or less: when every worker polls at once, a poll lasts about
    workers x POLL_CPU_S / cores real seconds, which must stay within a third of the limit."""
    cores = cores or os.cpu_count() or 1
    real_poll_s = max(1, workers) * POLL_CPU_S / cores
    fits = policy.lag_limit_s / 3 / real_poll_s
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
    behind_s: float = 0.0            # the longest stretch (real s) over the limit at min speed
    _over_since: float | None = None
    max_speed: float | None = None   # the start speed: a calm fleet is sped up to it again
    _settled_at: float = 0.0
    _calm_since: float | None = None

    async def check(self) -> SpeedChange | None:
        """Look at the fleet's recent poll lag; lower the speed when it passes the limit,
        raise it again (up to ``max_speed``) when the fleet has been calm for a while."""
        day = self.clock.now().date()
        lag = await fleet_lag(self.db, day, look_back_s=LOOK_BACK_S)
        self.max_lag_s = max(self.max_lag_s, lag.recent_max_s)
        if time.monotonic() < self._settled_at:
            return None
        speed = self.clock.speed
        limit = self.policy.lag_limit_s
        if lag.recent_max_s <= limit or speed <= self.policy.min_speed:
            self.settled_max_lag_s = max(self.settled_max_lag_s, lag.recent_max_s)
            self._note_behind(lag.recent_max_s > limit)
            return self._maybe_speed_up(speed, lag.recent_max_s)
        self._calm_since = None
        slower = max(self.policy.min_speed,
                     speed * limit * SLOW_MARGIN / lag.recent_max_s)
        return self._retime(speed, slower, lag.recent_max_s)

    def _note_behind(self, over: bool) -> None:
        """A single long poll (a liquidation waiting on its fills in real seconds) is not a
        fleet that cannot keep up; one that stays over the limit at the slowest speed is."""
        now = time.monotonic()
        if not over:
            self._over_since = None
            return
        self.over_limit_looks += 1
        if self._over_since is None:
            self._over_since = now
        self.behind_s = max(self.behind_s, now - self._over_since)

    def _maybe_speed_up(self, speed: float, lag_s: float) -> SpeedChange | None:
        """A passing load (another job on the machine) should not slow the rest of the day:
        after CALM_S real seconds well under the limit the speed goes back up, step by step,
        never past the start speed."""
        if self.max_speed is None or speed >= self.max_speed \
                or lag_s > self.policy.lag_limit_s * CALM_SHARE:
            self._calm_since = None
            return None
        now = time.monotonic()
        if self._calm_since is None:
            self._calm_since = now
        if now - self._calm_since < CALM_S:
            return None
        self._calm_since = None
        return self._retime(speed, min(self.max_speed, speed * SPEED_UP), lag_s)

    def _retime(self, speed: float, to: float, lag_s: float) -> SpeedChange:
        effective = self.clock.retime(to)
        self._settled_at = time.monotonic() + (effective - time.time()) + SETTLE_S
        change = SpeedChange(self.clock.now(), speed, to, lag_s)
        self.changes.append(change)
        if to < speed:
            self.settled_max_lag_s = 0.0
        return change

    @property
    def kept_up(self) -> bool:
        return self.behind_s < BEHIND_S

    def verdict(self) -> str:
        limit_min = self.policy.lag_limit_s / 60
        if not self.kept_up:
            return (f"the fleet could not keep up: polls lasted up to "
                    f"{self.max_lag_s / 60:.1f} session minutes for {self.behind_s:.0f} real "
                    f"seconds even at {self.policy.min_speed:g}x (limit {limit_min:g}); "
                    "decisions were made on a stale clock. Run fewer workers.")
        slowed = "" if not self.changes else (
            f"; speed changed {len(self.changes)} times, lowest "
            f"{min(c.to_speed for c in self.changes):.0f}x, last {self.changes[-1].to_speed:.0f}x")
        return (f"pace kept: longest poll {self.settled_max_lag_s / 60:.2f} session minutes "
                f"since the last change (limit {limit_min:g}){slowed}")
