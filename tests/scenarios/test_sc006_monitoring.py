"""SC-006: in HOLD with no exit condition met, a poll only publishes MonitoringEvent."""

from __future__ import annotations

from decimal import Decimal

from tests.scenarios.harness import build, enter, later, liquid_symbol

from tradefleet.domain.exits import ExitParams


async def test_hold_poll_without_exit_condition_only_monitors(db, logs):
    # ±50% exits, trend window longer than the morning so far, no time exit: nothing triggers
    exits = ExitParams(stop_loss_pct=Decimal("50"), take_profit_pct=Decimal("50"),
                       trend_ma_window=240, time_exit_minutes=0)
    rig = await build(db, worker_id="w-mon", exits=exits)
    symbol = liquid_symbol(rig.market)
    await enter(rig, symbol)
    before = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)

    for _ in range(3):
        later(rig, 1)
        await rig.cycle.poll()

    after = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert (after["qty"], after["status"], after["updated_at"]) == \
        (before["qty"], "OPEN", before["updated_at"])
    assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'SELL'") == 0
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'w-mon'") == "HOLD"
    events = await db.pool.fetch(
        "SELECT payload FROM events WHERE event_type = 'MonitoringEvent' ORDER BY event_id")
    assert len(events) == 3
    for e in events:
        assert e["payload"]["position_id"] == before["position_id"]
        assert set(e["payload"]["checks"]) == {"stop_loss", "take_profit", "trend_break",
                                               "time_exit"}
        assert not any(e["payload"]["checks"].values())
    assert [r["level"] for r in logs.of("MonitoringEvent")] == ["info"] * 3
