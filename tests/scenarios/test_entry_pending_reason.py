"""A worker whose own scan buys, but whose order answer is lost and not yet listed, holds the
symbol under a transition that says what is true: the entry is pending, not filled."""

from __future__ import annotations

from tests.scenarios.harness import build, poll_until

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.domain.states import WorkerStatus


async def _hold_reasons(db) -> list[str]:  # noqa: ANN001
    return [e["payload"]["reason"] for e in await fetch_events(db.pool, "StateTransitionedEvent")
            if e["payload"]["to_status"] == "HOLD"]


async def test_a_pending_entry_is_held_as_pending_then_as_the_position_it_became(db):
    rig = await build(db)
    rig.market.faults.set("place_order", "drop_after_accept", count=1)
    rig.market.faults.set("find_orders", "timeout", count=10_000)   # the list lags
    await poll_until(rig, lambda: rig.cycle.status is WorkerStatus.HOLD)
    assert rig.cycle.holding is not None and rig.cycle.holding.position_id == 0
    assert await _hold_reasons(db) == [
        "entry pending: its outcome is not known yet; followed until it is final"]
    rig.market.faults.clear()
    await poll_until(rig, lambda: rig.cycle.holding is not None
                     and rig.cycle.holding.position_id != 0)
    assert await _hold_reasons(db) == [
        "entry pending: its outcome is not known yet; followed until it is final"]
