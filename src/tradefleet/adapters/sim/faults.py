"""Fault injection plan, switchable at run time per test.

The plan only decides *which* fault fires for an operation; the async ``SimBroker`` (or the
HTTP simulator) acts it out, so the engine itself stays synchronous and pure."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

OPERATIONS = frozenset({
    "authenticate", "get_quotes", "get_minute_bars", "place_order", "get_order",
    "find_orders", "cancel_order", "modify_order", "get_balance", "get_buyable_qty",
})
KINDS = frozenset({"timeout", "latency", "error", "reject", "drop_after_accept"})


@dataclass(frozen=True)
class Fault:
    operation: str
    kind: str
    delay: float = 0.0           # real seconds slept before acting (latency / timeout)
    code: str = "APBK0000"       # OrderRejected code for kind "reject"
    message: str = "simulated rejection"


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None
    probability: float | None


class FaultPlan:
    """``set(operation, kind, count=..., probability=..., delay=...)``; ``clear()``."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: dict[str, _Rule] = {}
        self._rng = random.Random(seed)
        self._mutex = threading.Lock()
        self.fired: list[Fault] = []

    def set(self, operation: str, kind: str, *, count: int | None = None,
            probability: float | None = None, delay: float = 0.0,
            code: str = "APBK0000", message: str = "simulated rejection") -> None:
        """Arm one fault for ``operation`` (replacing any previous one for it).
        ``count`` None = unlimited; ``probability`` None = always."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation: unknown {operation!r}; one of {sorted(OPERATIONS)}")
        if kind not in KINDS:
            raise ValueError(f"kind: unknown {kind!r}; one of {sorted(KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count: must be >= 1 or None")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability: must be within [0, 1]")
        if delay < 0:
            raise ValueError("delay: must be >= 0")
        with self._mutex:
            self._rules[operation] = _Rule(Fault(operation, kind, delay, code, message),
                                           count, probability)

    def clear(self, operation: str | None = None) -> None:
        with self._mutex:
            if operation is None:
                self._rules.clear()
            else:
                self._rules.pop(operation, None)

    def take(self, operation: str) -> Fault | None:
        """The fault to act out for this call, if any (consumes one from ``count``)."""
        with self._mutex:
            rule = self._rules.get(operation)
            if rule is None:
                return None
            if rule.probability is not None and self._rng.random() >= rule.probability:
                return None
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    del self._rules[operation]
            self.fired.append(rule.fault)
            return rule.fault
