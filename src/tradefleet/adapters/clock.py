"""Clocks implementing ``ports.clock.Clock``.

``SimClock`` is a pure function of three numbers (sim start, speed, real start), so several
processes given the same numbers (``to_env``/``from_env``) agree on the simulated time
without talking to each other. A *held* SimClock (``SimClock.held``) stands still at its sim
start until a start file appears holding the real start; that lets the demo start its
workers first and the simulated day only once they are all ready."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


class WallClock:
    """Real time in Asia/Seoul."""

    def now(self) -> datetime:
        return datetime.now(SEOUL)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


HELD_POLL_SECONDS = 0.05   # how long a sleeper on a held clock waits before looking again


class SimClock:
    """Simulated time: ``sim_start + (time.time() - real_start) * speed``."""

    def __init__(self, sim_start: datetime, speed: float, real_start: float | None = None,
                 *, start_file: Path | None = None):
        if sim_start.tzinfo is None:
            raise ValueError("sim_start: must be timezone-aware")
        if not speed > 0:
            raise ValueError("speed: must be > 0")
        self.sim_start = sim_start.astimezone(SEOUL)
        self.speed = float(speed)
        self.start_file = start_file
        self.real_start: float | None
        if start_file is not None and real_start is None:
            self.real_start = None                   # held until the start file appears
        else:
            self.real_start = time.time() if real_start is None else float(real_start)

    @classmethod
    def held(cls, sim_start: datetime, speed: float, start_file: Path) -> SimClock:
        """A clock standing at ``sim_start`` until ``release`` (here or in any process
        sharing ``start_file``) starts it."""
        return cls(sim_start, speed, start_file=Path(start_file))

    @property
    def is_held(self) -> bool:
        return self._started() is None

    def _started(self) -> float | None:
        if self.real_start is None and self.start_file is not None:
            try:
                self.real_start = float(self.start_file.read_text(encoding="ascii"))
            except (FileNotFoundError, ValueError):
                return None                          # not yet (or being written)
        return self.real_start

    def release(self, real_start: float | None = None) -> None:
        """Start a held clock now (or at ``real_start``), for every process sharing it."""
        if self.start_file is None:
            raise ValueError("release: this clock is not held")
        at = time.time() if real_start is None else float(real_start)
        tmp = self.start_file.with_name(self.start_file.name + ".tmp")
        tmp.write_text(repr(at), encoding="ascii")
        os.replace(tmp, self.start_file)             # readers see all of it or nothing
        self.real_start = at

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
        real_start = self._started()
        if real_start is None:
            return self.sim_start
        elapsed = (time.time() - real_start) * self.speed
        return self.sim_start + timedelta(seconds=elapsed)

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of sim time; on a held clock, only until it is looked at again
        (time stands still, so the sleeper re-reads ``now()`` and decides anew)."""
        real = max(0.0, seconds) / self.speed
        if self.is_held:
            real = min(real, HELD_POLL_SECONDS)
        await asyncio.sleep(real)

    def to_env(self) -> str:
        """Serialise the defining numbers (for an environment variable)."""
        data: dict[str, object] = {"sim_start": self.sim_start.isoformat(),
                                   "speed": self.speed, "real_start": self.real_start}
        if self.start_file is not None:
            data["start_file"] = str(self.start_file)
        return json.dumps(data)

    @classmethod
    def from_env(cls, value: str) -> SimClock:
        try:
            data = json.loads(value)
            start_file = data.get("start_file")
            real_start = data["real_start"]
            if real_start is None and not start_file:
                raise ValueError("real_start: null needs a start_file (a held clock)")
            return cls(datetime.fromisoformat(data["sim_start"]), float(data["speed"]),
                       None if real_start is None else float(real_start),
                       start_file=Path(start_file) if start_file else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
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
