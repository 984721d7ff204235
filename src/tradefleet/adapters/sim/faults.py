"""Fault injection plan, shared by the in-process ``SimBroker`` and the HTTP simulator.

Both name operations as ``ports.broker.BrokerPort`` does (the HTTP simulator maps each request
to exactly one of them, see ``exchange/operations.py``), so a test or a chaos bench says
"cancel_order fails twice" the same way whichever broker it drives. The plan only decides
*which* rule fires for a call; the broker acts it out, so the engine stays synchronous.

A rule that could never fire is refused when it is made (ValueError naming the field): an
unknown operation, ``reject`` on anything but an order operation, probability 0, a latency
without a delay. Rules stack: the first active rule (in the order added) whose selectors match
and whose probability draw passes fires. Spent rules stay listed with their fired count."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

OPERATIONS: tuple[str, ...] = (
    "authenticate", "get_quotes", "get_minute_bars", "place_order", "get_order",
    "find_orders", "cancel_order", "modify_order", "get_balance", "get_buyable_qty",
)
ORDER_OPERATIONS = frozenset({"place_order", "cancel_order", "modify_order"})
KINDS: tuple[str, ...] = ("latency", "timeout", "error", "rate_limit", "reject",
                          "drop_after_accept", "hang_after_accept")
# kinds the gateway decides before the request takes a slot in the rate window
GATEWAY_KINDS = frozenset({"rate_limit"})
EXCHANGE_KINDS = frozenset(KINDS) - GATEWAY_KINDS
MAX_DELAY_SECONDS = 300.0       # every hang is bounded
DEFAULT_CODE = "APBK0000"
DEFAULT_MESSAGE = "simulated rejection"


def kinds_for(operation: str) -> frozenset[str]:
    """The kinds that can fire on ``operation``: a business rejection only on orders."""
    if operation in ORDER_OPERATIONS:
        return frozenset(KINDS)
    return frozenset(KINDS) - {"reject"}


@dataclass(frozen=True)
class Fault:
    """One armed rule. ``delay`` None = the broker's default for the kind (HTTP: a timeout or
    hang lasts ``DEFAULT_HANG_SECONDS``; in process: no wait)."""

    operation: str
    kind: str
    count: int | None = None         # None = unlimited
    probability: float | None = None    # None = always
    delay: float | None = None
    code: str | None = None          # reject only (default APBK0000)
    message: str | None = None       # reject only
    appkey: str | None = None        # selector: only requests with this appkey
    worker: str | None = None        # selector: only requests naming this worker
    seed: int | None = None          # the rule's own RNG for ``probability``
    rule_id: int = 0

    def __post_init__(self) -> None:
        _check(self)

    @property
    def reject_code(self) -> str:
        return self.code or DEFAULT_CODE

    @property
    def reject_message(self) -> str:
        return self.message or DEFAULT_MESSAGE

    def scope(self) -> tuple[str, str | None, str | None]:
        return self.operation, self.appkey, self.worker


def _check(f: Fault) -> None:
    if f.operation not in OPERATIONS:
        raise ValueError(f"operation: unknown {f.operation!r}; one of {list(OPERATIONS)}")
    if f.kind not in KINDS:
        raise ValueError(f"kind: unknown {f.kind!r}; one of {list(KINDS)}")
    if f.kind not in kinds_for(f.operation):
        raise ValueError(f"kind: {f.kind!r} never fires on {f.operation} (a business "
                         f"rejection only comes on {sorted(ORDER_OPERATIONS)})")
    if f.count is not None and (isinstance(f.count, bool) or not isinstance(f.count, int)
                                or f.count < 1):
        raise ValueError(f"count: must be an integer >= 1 or null (unlimited), got {f.count!r}")
    if f.probability is not None and not 0.0 < f.probability <= 1.0:
        raise ValueError(f"probability: must be within (0, 1] or null (always), "
                         f"got {f.probability!r}")
    if f.delay is not None and not 0.0 <= f.delay <= MAX_DELAY_SECONDS:
        raise ValueError(f"delay: must be within [0, {MAX_DELAY_SECONDS:g}] seconds, "
                         f"got {f.delay!r}")
    if f.kind == "latency" and not f.delay:
        raise ValueError("delay: a latency rule needs a delay > 0 seconds")
    if f.kind != "reject" and (f.code is not None or f.message is not None):
        name = "code" if f.code is not None else "message"
        raise ValueError(f"{name}: only for kind 'reject', not {f.kind!r}")
    if f.code is not None and not (f.code.isascii() and f.code.isalnum() and len(f.code) <= 16):
        raise ValueError(f"code: expected a KIS-like message code (e.g. APBK0952), got {f.code!r}")
    for name in ("appkey", "worker"):
        value = getattr(f, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{name}: must be a non-empty string or null (any)")


@dataclass
class RuleState:
    """A rule as listed: its fault, how many times it fired, and whether it is still armed."""

    fault: Fault
    remaining: int | None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def active(self) -> bool:
        return self.remaining is None or self.remaining > 0

    def as_json(self) -> dict[str, object]:
        f = self.fault
        return {"id": f.rule_id, "operation": f.operation, "kind": f.kind, "count": f.count,
                "remaining": self.remaining, "probability": f.probability, "delay": f.delay,
                "code": f.code, "message": f.message, "appkey": f.appkey, "worker": f.worker,
                "seed": f.seed, "fired": self.fired, "active": self.active}


class FaultPlan:
    """``add(operation, kind, ...)`` -> rule id; ``set`` replaces rules of the same scope
    (operation, appkey, worker) first, as the plan always did; ``take`` at each call."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._rules: list[RuleState] = []
        self._next_id = 1
        self._mutex = threading.Lock()
        self.fired: list[Fault] = []        # every firing, in order

    def add(self, operation: str, kind: str, **options: object) -> int:
        """Arm one rule (see ``Fault`` for the options); returns its id."""
        return self.arm(Fault(operation, kind, **options))  # type: ignore[arg-type]

    def arm(self, fault: Fault) -> int:
        """Arm an already checked ``Fault`` (its ``rule_id`` is assigned here)."""
        with self._mutex:
            return self._add(fault)

    def set(self, operation: str, kind: str, **options: object) -> int:
        """Arm one rule, first dropping the rules of the same scope."""
        fault = Fault(operation, kind, **options)  # type: ignore[arg-type]
        with self._mutex:
            self._rules = [r for r in self._rules if r.fault.scope() != fault.scope()]
            return self._add(fault)

    def _add(self, fault: Fault) -> int:
        rule_id = self._next_id
        self._next_id += 1
        fault = replace(fault, rule_id=rule_id)
        seed = fault.seed if fault.seed is not None else f"{self._seed}:{rule_id}"
        self._rules.append(RuleState(fault, fault.count, rng=random.Random(seed)))
        return rule_id

    def remove(self, rule_id: int) -> bool:
        with self._mutex:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.fault.rule_id != rule_id]
            return len(self._rules) < before

    def clear(self, operation: str | None = None) -> int:
        """Drop every rule (or those of ``operation``); returns how many were dropped."""
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"operation: unknown {operation!r}; one of {list(OPERATIONS)}")
        with self._mutex:
            keep = [] if operation is None else \
                [r for r in self._rules if r.fault.operation != operation]
            dropped = len(self._rules) - len(keep)
            self._rules = keep
            return dropped

    def take(self, operation: str, *, appkey: str | None = None, worker: str | None = None,
             kinds: Iterable[str] | None = None) -> Fault | None:
        """The fault to act out for this call, if any (consumes one from its ``count``).
        ``kinds`` limits the rules considered (the gateway asks for rate limits first)."""
        wanted = frozenset(kinds) if kinds is not None else None
        with self._mutex:
            for rule in self._rules:
                f = rule.fault
                if not rule.active or f.operation != operation:
                    continue
                if wanted is not None and f.kind not in wanted:
                    continue
                if (f.appkey is not None and f.appkey != appkey) or \
                        (f.worker is not None and f.worker != worker):
                    continue
                if f.probability is not None and rule.rng.random() >= f.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.fired += 1
                self.fired.append(f)
                return f
            return None

    def rules(self) -> list[RuleState]:
        """A snapshot of every rule, spent ones included."""
        with self._mutex:
            return [replace(r) for r in self._rules]

    def rule(self, rule_id: int) -> RuleState | None:
        return next((r for r in self.rules() if r.fault.rule_id == rule_id), None)

    def fired_count(self, rule_id: int) -> int:
        found = self.rule(rule_id)
        return found.fired if found else 0
