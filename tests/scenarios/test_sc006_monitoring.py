"""SC-006: in HOLD with no exit condition met, each poll re-reads the price and the short
average, evaluates all four exit checks, publishes MonitoringEvent and sends nothing.

검증: log (poll, exit checks and their result), positions unchanged, MonitoringEvent."""

from __future__ import annotations

from tests.scenarios.evidence import events, lines, worker_row
from tests.scenarios.harness import build, poll_until_holding

CHECKS = {"stop_loss", "take_profit", "trend_break", "time_exit"}


async def test_hold_polls_without_exit_condition_only_monitor(db, logs):
    rig = await build(db, worker_id="w-mon")         # ±29.9 %, 120-bar trend, no time exit
    symbol = await poll_until_holding(rig)
    before = dict(await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol))
    orders_before = await db.pool.fetchval("SELECT count(*) FROM orders")

    prices = []
    for _ in range(3):
        await rig.step(60)
        prices.append(rig.market.quote(symbol).price)

    after = dict(await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol))
    assert after == before                           # not a column changed
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == orders_before
    assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'SELL'") == 0
    row = await worker_row(db, "w-mon")
    assert (row["status"], row["current_symbol"]) == ("HOLD", symbol)
    monitored = await events(db, "MonitoringEvent", worker_id="w-mon")
    assert len(monitored) == 3
    for e, price in zip(monitored, prices, strict=True):
        assert (e["symbol"], e["position_id"], e["price"]) == \
            (symbol, before["position_id"], price)           # the price read at that poll
        assert set(e["checks"]) == CHECKS and not any(e["checks"].values())
    logged = lines(logs, event_type="MonitoringEvent", worker_id="w-mon")
    assert [r["level"] for r in logged] == ["info"] * 3
    assert all(set(r["checks"]) == CHECKS and "pnl_pct" in r for r in logged)
