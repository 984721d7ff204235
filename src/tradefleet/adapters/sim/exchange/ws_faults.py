"""Faults of the simulator's WebSocket feed, armed over ``POST /_admin/ws/faults`` on the
feed's own port: ``{"kind": ..., "count": n}`` or ``{"kind": "stall", "seconds": s}``.

- ``drop``: every open session is cut at once (TCP abort, no close frame), as a network
  failure does; a client must reconnect and register again.
- ``stall``: for ``seconds`` nothing at all is sent (no ticks, no notices, no PINGPONG) on
  sockets that stay open; notices due meanwhile go out when it ends.
- ``duplicate_notice``: the next ``count`` notices are each sent twice.
- ``reorder_notices``: the next ``count`` notices are each held back and sent after the one
  that follows them.
- ``lose_notice``: the next ``count`` notices are never sent (the execution stays in the
  books: only the REST follower can find it).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

KINDS = ("drop", "stall", "duplicate_notice", "reorder_notices", "lose_notice")


class WsFaultError(ValueError):
    pass


class WsFaults:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._armed: Counter[str] = Counter()
        self.stalled_until = 0.0            # time.monotonic()
        self.acted: Counter[str] = Counter()

    def arm(self, body: Any) -> dict[str, Any]:
        """Validate and arm one rule; returns what was armed. ``drop`` is the caller's to
        act out at once."""
        if not isinstance(body, dict):
            raise WsFaultError("body: must be a JSON object")
        kind = body.get("kind")
        if kind not in KINDS:
            raise WsFaultError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
        if kind == "stall":
            seconds = body.get("seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) \
                    or not 0 < seconds <= 3600:
                raise WsFaultError(f"seconds: must be a number in (0, 3600], got {seconds!r}")
            with self._mutex:
                self.stalled_until = time.monotonic() + float(seconds)
                self.acted["stall"] += 1
            return {"kind": kind, "seconds": seconds}
        count = body.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10_000:
            raise WsFaultError(f"count: must be an integer in [1, 10000], got {count!r}")
        if kind != "drop":
            with self._mutex:
                self._armed[kind] += count
        return {"kind": kind, "count": count}

    def stalled(self) -> bool:
        return time.monotonic() < self.stalled_until

    def take(self, kind: str) -> bool:
        """Consume one armed ``kind``; True when it applies to this notice."""
        with self._mutex:
            if self._armed[kind] <= 0:
                return False
            self._armed[kind] -= 1
            self.acted[kind] += 1
            return True

    def state(self) -> dict[str, Any]:
        with self._mutex:
            return {"armed": {k: v for k, v in self._armed.items() if v},
                    "acted": dict(self.acted), "stalled": self.stalled()}
