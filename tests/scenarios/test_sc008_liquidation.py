"""SC-008: at the liquidation time (15:15, 15 minutes before the close) every holding worker
sells its position at market, least liquid first, frees its lock and returns to SCAN; from
then on it buys nothing.

검증: every positions qty = 0, stock_locks empty, every workers current_symbol = NULL,
MandatoryLiquidationEvent and PositionExitedEvent, log (mandatory liquidation, INFO)."""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.evidence import events, lines, one_line
from tests.scenarios.harness import LIQUIDATION_AT, build, poll_until_holding

from tradefleet.domain.orders import Side


async def test_liquidation_time_flattens_every_holding_worker_and_stops_buying(db, logs):
    a = await build(db, worker_id="w-liq-a")
    b = await build(db, worker_id="w-liq-b", market=a.market, clock=a.clock)
    held_a = await poll_until_holding(a)
    await b.cycle.poll()                             # same moment: B takes the next candidate
    held_b = b.cycle.holding.lock.symbol
    assert held_a != held_b and await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 2
    assert a.worker.config.liquidation_at == LIQUIDATION_AT
    buys = await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'BUY'")

    a.clock.set(LIQUIDATION_AT + timedelta(seconds=30))
    await a.step(0)
    await b.step(0)

    assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE qty > 0") == 0
    closed = await db.pool.fetch("SELECT symbol, exit_reason FROM positions ORDER BY symbol")
    assert [(r["symbol"], r["exit_reason"]) for r in closed] == \
        sorted([(held_a, "LIQUIDATION"), (held_b, "LIQUIDATION")])
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    workers = await db.pool.fetch("SELECT status, current_symbol FROM workers")
    assert [(w["status"], w["current_symbol"]) for w in workers] == [("SCAN", None)] * 2
    sells = await db.pool.fetch("SELECT purpose, status, order_type FROM orders "
                                "WHERE side = 'SELL'")
    assert [tuple(s) for s in sells] == [("LIQUIDATION", "FILLED", "MARKET")] * 2
    for wid, symbol in (("w-liq-a", held_a), ("w-liq-b", held_b)):
        [started] = await events(db, "MandatoryLiquidationEvent", worker_id=wid)
        assert started["positions"] == [symbol] and started["order_of_exit"] == [symbol]
        [exited] = await events(db, "PositionExitedEvent", worker_id=wid)
        assert (exited["symbol"], exited["exit_reason"]) == (symbol, "LIQUIDATION")
        said = one_line(logs, event="mandatory liquidation", worker_id=wid)
        assert said["level"] == "info" and said["symbol"] == symbol
        announced = one_line(logs, event_type="MandatoryLiquidationEvent", worker_id=wid)
        assert announced["level"] == "info"

    # after liquidation time a SCAN poll buys nothing, and says so once
    for _ in range(3):
        await a.step()
        await b.step()
    assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'BUY'") == buys
    assert len(a.market.find(held_a, Side.BUY, a.clock.now().replace(hour=0))) == 1
    for wid in ("w-liq-a", "w-liq-b"):
        [stopped] = lines(logs, event="liquidation time reached; buying stopped", worker_id=wid)
        assert stopped["level"] == "info"
