"""EC-004 on the worker's own path: the day's realized loss plus what the next entry could
lose at its stop-loss would pass the daily loss limit. The worker's entry refuses it before
any lock or order exists (RiskViolationEvent, WARN), the worker stays in SCAN and buys
nothing more that day (매수 중지); selling stays allowed: shares it comes to hold are still
sold (보유 종목만 청산 허용, here a dead worker's position it adopts).

The capital-limit rule (order value > 한도액) cannot be breached on this path: the entry
sizes every buy at capital_limit // price (domain/risk.py entry_qty); check_entry's
capital rule is proven in tests/domain/test_risk_liquidation.py.

검증: no orders row for the refused entry, RiskViolationEvent, log (risk limit breached,
order blocked; WARN)."""

from __future__ import annotations

from decimal import Decimal

from tests.scenarios.evidence import events, lines, worker_row
from tests.scenarios.harness import WIDE_EXITS, build, poll_until, poll_until_holding

from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.domain.exits import ExitParams
from tradefleet.services.lock_service import LockService

STOP = Decimal("0.01")          # 5,000,000 won may lose 500 at this stop: within 1,000
LIMIT = 1_000


async def test_daily_loss_limit_stops_buying_but_not_selling(db, logs):
    other = await build(db, worker_id="w-other")
    orphaned = await poll_until_holding(other)       # a worker that will die holding this
    rig = await build(db, worker_id="w-risk", market=other.market, clock=other.clock,
                      daily_loss_limit=LIMIT,
                      exits=ExitParams(STOP, WIDE_EXITS.take_profit_pct, 120, 0))
    first = await poll_until_holding(rig)            # the first entry is within the limit
    await poll_until(rig, lambda: rig.cycle.holding is None)      # ... and stopped out
    loss = await db.pool.fetchval(
        "SELECT realized_pnl FROM positions WHERE worker_id = 'w-risk' AND symbol = $1", first)
    assert -loss > LIMIT, f"the stop-loss (fees and taxes included) must lose enough ({loss})"
    orders_before = await db.pool.fetchval(
        "SELECT count(*) FROM orders WHERE worker_id = 'w-risk'")

    await poll_until(rig, lambda: rig.cycle.buying_stopped)       # the next buy signal

    [violation] = await events(db, "RiskViolationEvent", worker_id="w-risk")
    assert (violation["rule"], violation["daily_pnl"], violation["limit"]) == \
        ("DAILY_LOSS_LIMIT", loss, LIMIT)
    refused = violation["symbol"]
    assert refused is not None
    assert await db.pool.fetchval(
        "SELECT count(*) FROM orders WHERE worker_id = 'w-risk'") == orders_before
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks WHERE worker_id = 'w-risk'"
                                  ) == 0
    row = await worker_row(db, "w-risk")
    assert (row["status"], row["current_symbol"]) == ("SCAN", None)
    assert row["buy_blocked"]
    [line] = lines(logs, event_type="RiskViolationEvent", worker_id="w-risk")
    assert line["level"] == "warning" and line["rule"] == "DAILY_LOSS_LIMIT"
    assert "order blocked" in line["message"] and line["symbol"] == refused
    scans = len(await events(db, "CandidateScannedEvent", worker_id="w-risk"))

    for _ in range(10):                              # 매수 중지: no scan, no buy, all day
        await rig.step()
    assert len(await events(db, "CandidateScannedEvent", worker_id="w-risk")) == scans
    assert await db.pool.fetchval(
        "SELECT count(*) FROM orders WHERE worker_id = 'w-risk'") == orders_before
    assert (await worker_row(db, "w-risk"))["status"] == "SCAN"

    # 보유 종목만 청산 허용: the other worker dies holding; w-risk adopts and sells its shares
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '1 hour' "
                          "WHERE worker_id = 'w-other'")
    assert await LockService(PostgresLockStore(db), rig.sink,
                             ttl_seconds=30).reclaim_expired() == ["w-other"]
    await poll_until(rig, lambda: rig.cycle.status.value == "SCAN"
                     and not [h for h in rig.market.balance().holdings
                              if h.symbol == orphaned and h.qty])
    [adopted] = await events(db, "OrphanAdoptedEvent", worker_id="w-risk")
    assert adopted["symbol"] == orphaned
    after = await db.pool.fetch("SELECT side, purpose, status FROM orders "
                                "WHERE worker_id = 'w-risk' ORDER BY order_id")
    assert [tuple(o) for o in after[orders_before:]] == [("SELL", "ORPHAN", "FILLED")]
    assert all(o["side"] == "SELL" for o in after[orders_before:])
