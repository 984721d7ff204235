"""Paced restarts: when the pod spec of many workers changes at once (a new worker image
in ``helm upgrade``), at most ``max_concurrent_restarts`` of them replace their pod at a
time, and each holds its slot until its new pod is Ready with its worker heartbeating, so a
bad image stops the rollout after the first worker instead of taking the fleet down. The
others keep trading on their old pod and say what they wait for (condition
RestartPending).

The slots live in the operator's memory: an operator restart mid-rollout forgets the
replacements in flight, so for that moment up to twice the limit may be restarting."""

from __future__ import annotations

from tradefleet.operator.pending import is_pending_problem
from tradefleet.operator.plan import Observed, Plan, RestartHold

Key = tuple[str, str]          # (namespace, name)
SETTLED = ("Stopped", "Pending", "Degraded", "Terminating")


class RestartGate:
    def __init__(self, max_at_once: int) -> None:
        self._max = max(1, max_at_once)
        self._holders: list[Key] = []

    @property
    def holders(self) -> tuple[Key, ...]:
        return tuple(self._holders)

    def hold_for(self, key: Key) -> RestartHold | None:
        """None when ``key`` may start (or continue) a restart now."""
        if key in self._holders or len(self._holders) < self._max:
            return None
        names = ", ".join(f"{ns}/{name}" for ns, name in self._holders)
        return RestartHold("WaitingForRestartSlot",
                           f"pod spec changed; restart waits for {names} to be Ready "
                           f"({self._max} restart(s) at a time)")

    def passed(self, key: Key, observed: Observed, plan: Plan) -> None:
        """After planning, before any await: a pass that starts a restart takes its slot;
        one whose worker is Ready again (or no longer runs) gives it back."""
        if plan.restarting:
            if key not in self._holders:
                self._holders.append(key)
        elif key in self._holders and _restart_over(observed, plan):
            self._holders.remove(key)

    def forget(self, key: Key) -> None:
        if key in self._holders:
            self._holders.remove(key)


def _restart_over(observed: Observed, plan: Plan) -> bool:
    if plan.phase in SETTLED:    # a new pod stuck Pending keeps its slot: a bad image
        return not is_pending_problem(plan.degraded)       # stops the rollout there
    pods = [p for p in observed.pods if not p.deleting]
    return (bool(pods) and pods[-1].ready and observed.worker.live
            and plan.ready_reason is None and plan.restart_pending is None)
