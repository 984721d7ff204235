"""Worker states and the only transitions allowed between them (spec SC-001..SC-009)."""

from __future__ import annotations

from enum import StrEnum


class WorkerStatus(StrEnum):
    IDLE = "IDLE"
    SCAN = "SCAN"
    HOLD = "HOLD"
    EXIT = "EXIT"


class IllegalTransition(Exception):
    """Raised when code asks for a state change the table does not allow."""

    def __init__(self, current: WorkerStatus, target: WorkerStatus) -> None:
        super().__init__(f"illegal worker transition {current} -> {target}")
        self.current = current
        self.target = target


# From each state, the states it may move to. EXIT is terminal for a process; a restarted
# process registers again (EXIT -> IDLE) under a new epoch.
TRANSITIONS: dict[WorkerStatus, frozenset[WorkerStatus]] = {
    WorkerStatus.IDLE: frozenset({WorkerStatus.SCAN, WorkerStatus.HOLD, WorkerStatus.EXIT}),
    WorkerStatus.SCAN: frozenset({WorkerStatus.HOLD, WorkerStatus.EXIT}),
    WorkerStatus.HOLD: frozenset({WorkerStatus.SCAN, WorkerStatus.EXIT}),
    WorkerStatus.EXIT: frozenset({WorkerStatus.IDLE}),
}


def check_transition(current: WorkerStatus, target: WorkerStatus) -> WorkerStatus:
    """Return ``target`` if the table allows ``current -> target``; raise otherwise."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    return target
