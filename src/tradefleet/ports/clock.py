"""Time as the worker sees it. Production uses the wall clock; tests and the demo use a
simulated clock that can run a whole KRX day in seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware (Asia/Seoul)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        ...
