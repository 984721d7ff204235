"""EC-002: a rejected buy leaves a REJECTED row, frees the lock, is logged at WARN, and the
worker goes on to the next candidate."""

from __future__ import annotations

from tests.scenarios.harness import build, candidate, liquid_symbol

from tradefleet.domain.orders import Side


async def test_rejected_buy_releases_lock_and_next_candidate_is_tried(db, logs):
    rig = await build(db, worker_id="w-rej")
    first, second = liquid_symbol(rig.market, 0), liquid_symbol(rig.market, 1)
    rig.market.faults.set("place_order", "reject", count=1, code="APBK0952",
                          message="insufficient orderable cash")

    outcome = await rig.cycle._entry.try_enter(
        [candidate(rig.market, first), candidate(rig.market, second)])

    rejected = await db.pool.fetchrow("SELECT * FROM orders WHERE symbol = $1", first)
    assert (rejected["status"], rejected["reject_code"]) == ("REJECTED", "APBK0952")
    assert await db.pool.fetchval(
        "SELECT count(*) FROM stock_locks WHERE symbol = $1", first) == 0
    released = await db.pool.fetch(
        "SELECT symbol, payload FROM events WHERE event_type = 'LockReleasedEvent'")
    assert [(r["symbol"], r["payload"]["reason"]) for r in released] == [(first, "REJECTED")]
    ev = await db.pool.fetch("SELECT payload FROM events WHERE event_type = 'OrderRejectedEvent'")
    assert len(ev) == 1 and ev[0]["payload"]["code"] == "APBK0952"
    assert [r["level"] for r in logs.of("OrderRejectedEvent")] == ["warning"]
    assert any(r.get("event") == "buy order rejected; lock released"
               and r["level"] == "warning" for r in logs.records)
    # nothing reached the market for the rejected symbol; the next candidate was bought
    assert rig.market.find(first, Side.BUY, rig.clock.now().replace(hour=0)) == []
    assert outcome is not None and outcome.lock is not None
    assert outcome.lock.symbol == second and outcome.order.status == "FILLED"


async def test_rejection_of_the_only_candidate_keeps_the_worker_scanning(db, logs):
    rig = await build(db, worker_id="w-rej1")
    only = liquid_symbol(rig.market)
    rig.market.faults.set("place_order", "reject", count=1, code="APBK0952")

    assert await rig.cycle._entry.try_enter([candidate(rig.market, only)]) is None

    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'w-rej1'") == "SCAN"
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM positions") == 0
