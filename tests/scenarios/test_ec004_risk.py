"""EC-004: an entry whose possible loss would break the daily loss limit is refused before
any order row or lock exists; buying stops, the worker stays in SCAN."""

from __future__ import annotations

from decimal import Decimal

from tests.scenarios.harness import build, candidate, liquid_symbol


async def test_risk_breach_blocks_the_order_and_stops_buying(db, logs):
    # 5,000,000 won at a 50% stop may lose 2,500,000 > the 1,000,000 daily limit
    rig = await build(db, worker_id="w-risk", capital_limit=5_000_000,
                      daily_loss_limit=1_000_000)
    assert rig.cycle._exits.stop_loss_pct == Decimal("50")
    symbol = liquid_symbol(rig.market)

    outcome = await rig.cycle._entry.try_enter([candidate(rig.market, symbol)])

    assert outcome is not None and outcome.blocked
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    ev = await db.pool.fetch("SELECT payload FROM events WHERE event_type = 'RiskViolationEvent'")
    assert len(ev) == 1 and ev[0]["payload"]["rule"] == "DAILY_LOSS_LIMIT"
    assert [r["level"] for r in logs.of("RiskViolationEvent")] == ["warning"]
    assert rig.market.find(symbol, "BUY", rig.clock.now().replace(hour=0)) == []
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'w-risk'") == "SCAN"
