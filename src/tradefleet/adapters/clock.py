"""Clocks implementing ``ports.clock.Clock``.

``SimClock`` is a pure function of three numbers (sim start, speed, real start), so several
processes given the same numbers (``to_env``/``from_env``) agree on the simulated time
without talking to each other. A *held* SimClock (``SimClock.held``) stands still at its sim
start until a start file appears holding the real start; that lets the demo start its
workers first and the simulated day only once they are all ready. The start file may also
carry later changes of speed (``retime``), each taking effect a moment after it is written:
every process sharing the file re-reads it more often than that, so all of them slow down
together and no clock ever steps back."""

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


RETIME_DELAY_S = 1.0       # a speed change takes effect this long after it is written...
REREAD_S = 0.2             # ...and every sharing process looks at the file this often


class SimClock:
    """Simulated time: ``sim_start + (time.time() - real_start) * speed``, piecewise when
    the speed was changed (``retime``): one (real_at, sim_at, speed) segment per change."""

    def __init__(self, sim_start: datetime, speed: float, real_start: float | None = None,
                 *, start_file: Path | None = None,
                 segments: list[tuple[float, datetime, float]] | None = None):
        if sim_start.tzinfo is None:
            raise ValueError("sim_start: must be timezone-aware")
        if not speed > 0:
            raise ValueError("speed: must be > 0")
        self.sim_start = sim_start.astimezone(SEOUL)
        self.base_speed = float(speed)
        self.start_file = start_file
        self.real_start: float | None
        self._segments: list[tuple[float, datetime, float]] = list(segments or [])
        self._read_at = float("-inf")
        self._file_stamp: int | None = None
        if start_file is not None and real_start is None:
            self.real_start = None                   # held until the start file appears
        else:
            self.real_start = time.time() if real_start is None else float(real_start)
            if not self._segments:
                self._segments = [(self.real_start, self.sim_start, self.base_speed)]

    @classmethod
    def held(cls, sim_start: datetime, speed: float, start_file: Path) -> SimClock:
        """A clock standing at ``sim_start`` until ``release`` (here or in any process
        sharing ``start_file``) starts it."""
        return cls(sim_start, speed, start_file=Path(start_file))

    @property
    def is_held(self) -> bool:
        return self._started() is None

    @property
    def speed(self) -> float:
        """The speed in force now."""
        self._started()
        return self._segment(time.time())[2] if self._segments else self.base_speed

    @property
    def segments(self) -> list[tuple[float, datetime, float]]:
        self._started()
        return list(self._segments)

    def _started(self) -> float | None:
        if self.start_file is not None and (self.real_start is None
                                            or time.monotonic() - self._read_at >= REREAD_S):
            self._read_file()
        return self.real_start

    def _read_file(self) -> None:
        assert self.start_file is not None
        try:
            stamp = self.start_file.stat().st_mtime_ns
            if stamp == self._file_stamp:
                self._read_at = time.monotonic()
                return
            text = self.start_file.read_text(encoding="ascii")
            if text.lstrip().startswith("{"):
                data = json.loads(text)
                segments = [(float(r), datetime.fromisoformat(s), float(v))
                            for r, s, v in data["segments"]]
            else:
                real_start = float(text)
                segments = [(real_start, self.sim_start, self.base_speed)]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return                                   # not yet (or being written)
        self._file_stamp = stamp
        self._read_at = time.monotonic()
        self._segments = segments
        self.real_start = segments[0][0]

    def _segment(self, real: float) -> tuple[float, datetime, float]:
        chosen = self._segments[0]
        for segment in self._segments[1:]:
            if segment[0] <= real:
                chosen = segment
        return chosen

    def at_real(self, real: float) -> datetime:
        """The session time at real (epoch) time ``real``."""
        if self._started() is None:
            return self.sim_start
        real_at, sim_at, speed = self._segment(real)
        return sim_at + timedelta(seconds=(real - real_at) * speed)

    def release(self, real_start: float | None = None) -> None:
        """Start a held clock now (or at ``real_start``), for every process sharing it."""
        if self.start_file is None:
            raise ValueError("release: this clock is not held")
        at = time.time() if real_start is None else float(real_start)
        self._write_file(repr(at))
        self.real_start = at
        self._segments = [(at, self.sim_start, self.base_speed)]

    def retime(self, speed: float, *, delay_s: float = RETIME_DELAY_S) -> float:
        """Change the speed of a running shared clock, for every process sharing its start
        file, ``delay_s`` real seconds from now (longer than any reader's re-read period, so
        the clock stays continuous everywhere). Returns the real time it takes effect."""
        if self.start_file is None or self._started() is None:
            raise ValueError("retime: only a released clock with a start file")
        if not speed > 0:
            raise ValueError("speed: must be > 0")
        at = time.time() + delay_s
        segments = [*self._segments, (at, self.at_real(at), float(speed))]
        self._write_file(json.dumps({"segments": [[r, s.isoformat(), v]
                                                  for r, s, v in segments]}))
        self._segments = segments
        return at

    def _write_file(self, text: str) -> None:
        assert self.start_file is not None
        tmp = self.start_file.with_name(self.start_file.name + ".tmp")
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, self.start_file)             # readers see all of it or nothing

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
        return self.at_real(time.time())

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
                                   "speed": self.base_speed, "real_start": self.real_start}
        if self.start_file is not None:
            data["start_file"] = str(self.start_file)
        if len(self._segments) > 1:
            data["segments"] = [[r, s.isoformat(), v] for r, s, v in self._segments]
        return json.dumps(data)

    @classmethod
    def from_env(cls, value: str) -> SimClock:
        try:
            data = json.loads(value)
            start_file = data.get("start_file")
            real_start = data["real_start"]
            if real_start is None and not start_file:
                raise ValueError("real_start: null needs a start_file (a held clock)")
            segments = [(float(r), datetime.fromisoformat(s), float(v))
                        for r, s, v in data.get("segments", [])]
            return cls(datetime.fromisoformat(data["sim_start"]), float(data["speed"]),
                       None if real_start is None else float(real_start),
                       start_file=Path(start_file) if start_file else None,
                       segments=segments or None)
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
