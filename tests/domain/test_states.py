"""Worker state transition table: every listed move is allowed, every other raises."""

from __future__ import annotations

import itertools

import pytest

from tradefleet.domain.states import IllegalTransition, WorkerStatus, check_transition

S = WorkerStatus
# The lifecycle from the spec, written out independently of the module's table.
LEGAL = {
    (S.IDLE, S.SCAN), (S.IDLE, S.HOLD), (S.IDLE, S.EXIT),   # HOLD: restart with a position
    (S.SCAN, S.HOLD), (S.SCAN, S.EXIT),
    (S.HOLD, S.SCAN), (S.HOLD, S.EXIT),
    (S.EXIT, S.IDLE),
}
ALL = list(itertools.product(S, S))


@pytest.mark.parametrize("current,target", sorted(LEGAL))
def test_legal_moves(current, target):
    assert check_transition(current, target) == target


@pytest.mark.parametrize("current,target", [p for p in ALL if p not in LEGAL])
def test_illegal_moves_raise(current, target):
    with pytest.raises(IllegalTransition) as exc:
        check_transition(current, target)
    assert (exc.value.current, exc.value.target) == (current, target)
    assert str(current) in str(exc.value) and str(target) in str(exc.value)
