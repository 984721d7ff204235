"""EC-004: a risk breach records RiskViolationEvent (WARN), stops buying, writes no order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from tests.test_locks import register

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.summary_store import PostgresSummaryStore
from tradefleet.domain.risk import RiskLimits
from tradefleet.services.risk_service import RiskService

DAY = date(2026, 11, 24)


async def set_day_pnl(db, worker_id: str, pnl: int) -> None:
    await db.pool.execute(
        """INSERT INTO daily_summaries (trading_day, worker_id, realized_pnl, trades_count,
               loss_count, max_loss) VALUES ($1, $2, $3::bigint, 1, 1, LEAST($3::bigint, 0))""",
        DAY, worker_id, pnl)


async def test_ec004_daily_loss_limit_blocks_buying(db, sink, logs):
    await register(db, sink, "w1")
    await set_day_pnl(db, "w1", -90_000)
    risk = RiskService(PostgresSummaryStore(db), sink,
                       RiskLimits(capital_limit=1_000_000, daily_loss_limit=100_000))
    ok = await risk.check_entry("w1", DAY, price=10_000, qty=10, stop_loss_pct=Decimal("2"))
    assert ok.allowed                          # 90,000 + 2,000 stays within 100,000
    verdict = await risk.check_entry("w1", DAY, price=10_000, qty=60,
                                     stop_loss_pct=Decimal("2"))   # 90,000 + 12,000
    assert not verdict.allowed and verdict.rule == "DAILY_LOSS_LIMIT"
    blocked = await db.pool.fetchval("SELECT buy_blocked FROM workers WHERE worker_id = 'w1'")
    assert blocked and "DAILY_LOSS_LIMIT" in blocked
    events = await fetch_events(db.pool, "RiskViolationEvent")
    assert len(events) == 1 and events[0]["payload"]["daily_pnl"] == -90_000
    assert events[0]["payload"]["limit"] == 100_000
    assert [r["level"] for r in logs.of("RiskViolationEvent")] == ["warning"]
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0
    # buying stays stopped for the day, even for an entry that would fit
    again = await risk.check_entry("w1", DAY, price=10_000, qty=1, stop_loss_pct=Decimal("2"))
    assert not again.allowed and again.rule == "BUY_BLOCKED"


async def test_ec004_capital_limit_blocks_buying(db, sink, logs):
    await register(db, sink, "w2")
    risk = RiskService(PostgresSummaryStore(db), sink,
                       RiskLimits(capital_limit=500_000, daily_loss_limit=100_000))
    verdict = await risk.check_entry("w2", DAY, price=50_100, qty=10, stop_loss_pct=Decimal("1"))
    assert not verdict.allowed and verdict.rule == "CAPITAL_LIMIT"
    assert await db.pool.fetchval("SELECT buy_blocked FROM workers WHERE worker_id = 'w2'")
    assert len(await fetch_events(db.pool, "RiskViolationEvent")) == 1
    assert [r["level"] for r in logs.of("RiskViolationEvent")] == ["warning"]
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_bad_input_names_the_field_and_writes_nothing(db, sink):
    await register(db, sink, "w3")
    risk = RiskService(PostgresSummaryStore(db), sink, RiskLimits(500_000, 100_000))
    with pytest.raises(ValueError, match="qty"):
        await risk.check_entry("w3", DAY, price=1000, qty=0, stop_loss_pct=Decimal("1"))
    with pytest.raises(ValueError, match="stop_loss_pct"):
        await risk.check_entry("w3", DAY, price=1000, qty=1, stop_loss_pct=2.0)
    assert await db.pool.fetchval("SELECT buy_blocked FROM workers") is None
    assert await db.pool.fetchval("SELECT count(*) FROM events WHERE event_type = "
                                  "'RiskViolationEvent'") == 0
