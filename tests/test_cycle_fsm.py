"""The trading cycle's state machine is the table CYCLE_FSM: each of its moves is one the
domain's state table allows, each reason names exactly one move, and a move the table does
not name is refused before anything is written. The cycle is handed a few components, not
a long list of arguments (issue 17)."""

from __future__ import annotations

import inspect

import pytest

from tradefleet.domain.states import TRANSITIONS, IllegalTransition, WorkerStatus
from tradefleet.worker.cycle import CYCLE_FSM, POLL_STEPS, TradingCycle, Why

MOST_CYCLE_ARGUMENTS = 9


def test_every_move_of_the_table_is_one_the_domain_allows():
    for (before, _why), after in CYCLE_FSM.items():
        assert after in TRANSITIONS[before], f"{before} -> {after}"


def test_each_reason_names_one_move_and_every_reason_is_in_the_table():
    whys = [why for (_, why) in CYCLE_FSM]
    assert sorted(whys) == sorted(Why)


def test_each_polled_state_has_its_step_and_idle_polls_nothing():
    assert set(POLL_STEPS) == {WorkerStatus.SCAN, WorkerStatus.HOLD}
    for step in POLL_STEPS.values():
        assert inspect.iscoroutinefunction(getattr(TradingCycle, step))


async def test_a_move_the_table_does_not_name_is_refused_before_anything_is_written():
    cycle = TradingCycle.__new__(TradingCycle)     # no registry: nothing could be written
    cycle.status = WorkerStatus.SCAN
    with pytest.raises(IllegalTransition) as info:
        await cycle.on(Why.EXITED, symbol=None)
    assert (info.value.current, info.value.target) == (WorkerStatus.SCAN, WorkerStatus.SCAN)


def test_the_cycle_is_handed_a_few_components():
    params = inspect.signature(TradingCycle.__init__).parameters
    assert len(params) - 1 <= MOST_CYCLE_ARGUMENTS, list(params)
