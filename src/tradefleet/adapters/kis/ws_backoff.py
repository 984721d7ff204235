"""Reconnect delays: exponential with jitter, reset only by a connection that lasted.

KIS warns that connect/disconnect loops can get an appkey or IP blocked (reference/kis-api.md
§3), so a server that accepts and drops at once must not be hammered: a failure counts until
a connection has stayed up ``stable_after`` seconds."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, *, base: float = 0.5, cap: float = 30.0, stable_after: float = 30.0,
                 rng: random.Random | None = None) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"backoff base/cap: need 0 < base <= cap, got {base}/{cap}")
        self.base, self.cap, self.stable_after = base, cap, stable_after
        self.failures = 0
        self._rng = rng or random.Random()   # noqa: S311 - jitter, not a secret

    def next_delay(self, lived: float) -> float:
        """The wait before the next attempt, after a connection that lived ``lived`` s."""
        if lived >= self.stable_after:
            self.failures = 0
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 30))
        self.failures += 1
        return ceiling * (0.5 + 0.5 * self._rng.random())
