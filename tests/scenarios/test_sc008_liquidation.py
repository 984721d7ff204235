"""SC-008: at liquidation time every holding worker sells at market, frees its lock and
returns to SCAN without buying again."""

from __future__ import annotations

from tests.scenarios.harness import LIQUIDATION_AT, build, enter, liquid_symbol


async def test_liquidation_time_flattens_every_worker(db, logs):
    first = await build(db, worker_id="w-liq-a")
    second = await build(db, worker_id="w-liq-b", market=first.market, clock=first.clock)
    await enter(first, liquid_symbol(first.market, 0))
    await enter(second, liquid_symbol(first.market, 1))
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 2

    first.clock.set(LIQUIDATION_AT.replace(second=30))
    await first.cycle.poll()
    await second.cycle.poll()

    assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE qty > 0") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE status = 'CLOSED'") == 2
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    workers = await db.pool.fetch("SELECT status, current_symbol FROM workers")
    assert [(w["status"], w["current_symbol"]) for w in workers] == [("SCAN", None)] * 2
    sells = await db.pool.fetch("SELECT purpose, status FROM orders WHERE side = 'SELL'")
    assert [(s["purpose"], s["status"]) for s in sells] == [("LIQUIDATION", "FILLED")] * 2
    kinds = [r["event_type"] for r in await db.pool.fetch(
        "SELECT event_type FROM events ORDER BY event_id")]
    assert kinds.count("MandatoryLiquidationEvent") == 2
    assert kinds.count("PositionExitedEvent") == 2
    assert any(r.get("event") == "mandatory liquidation" for r in logs.records)

    # after liquidation time a SCAN poll never buys
    await first.cycle.poll()
    assert first.cycle.buying_stopped
    assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'BUY'") == 2
