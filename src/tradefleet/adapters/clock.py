"""Clocks implementing ``ports.clock.Clock``.

``SimClock`` is a pure function of three numbers (sim start, speed, real start), so several
processes given the same numbers (``to_env``/``from_env``) agree on the simulated time
without talking to each other."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


class WallClock:
    """Real time in Asia/Seoul."""

    def now(self) -> datetime:
        return datetime.now(SEOUL)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """Simulated time: ``sim_start + (time.time() - real_start) * speed``."""

    def __init__(self, sim_start: datetime, speed: float, real_start: float | None = None):
        if sim_start.tzinfo is None:
            raise ValueError("sim_start: must be timezone-aware")
        if not speed > 0:
            raise ValueError("speed: must be > 0")
        self.sim_start = sim_start.astimezone(SEOUL)
        self.speed = float(speed)
        self.real_start = time.time() if real_start is None else float(real_start)

    @classmethod
    def starting_at(cls, day: date, hhmm: str, speed: float) -> SimClock:
        """Convenience: ``SimClock.starting_at(date(2026, 11, 24), "09:00", 60.0)``."""
        try:
            hh, mm = (int(part) for part in hhmm.split(":"))
            start = datetime.combine(day, dtime(hh, mm), tzinfo=SEOUL)
        except ValueError as exc:
            raise ValueError(f"hhmm: expected 'HH:MM', got {hhmm!r}") from exc
        return cls(start, speed)

    def now(self) -> datetime:
        elapsed = (time.time() - self.real_start) * self.speed
        return self.sim_start + timedelta(seconds=elapsed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def to_env(self) -> str:
        """Serialise the three defining numbers (for an environment variable)."""
        return json.dumps(
            {"sim_start": self.sim_start.isoformat(), "speed": self.speed,
             "real_start": self.real_start}
        )

    @classmethod
    def from_env(cls, value: str) -> SimClock:
        try:
            data = json.loads(value)
            return cls(datetime.fromisoformat(data["sim_start"]), float(data["speed"]),
                       float(data["real_start"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"sim clock env: not a SimClock.to_env() value ({exc})") from exc


class FrozenClock:
    """A clock that only moves when told to (tests, deterministic replays)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("at: must be timezone-aware")
        self._now = at.astimezone(SEOUL)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(SEOUL)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)
