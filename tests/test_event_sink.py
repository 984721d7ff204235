"""PostgresEventSink: ``publish`` stores the event row and logs it; ``log`` only logs."""

from __future__ import annotations

from datetime import UTC, datetime

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.telemetry.logging import log_event
from tradefleet.domain.events import (
    LockRejectedEvent,
    MonitoringEvent,
    RiskViolationEvent,
    StateTransitionedEvent,
)


async def test_publish_writes_row_and_log_line(db, logs):
    from tradefleet.adapters.postgres.event_sink import PostgresEventSink

    sink = PostgresEventSink(db, host="h1")
    event = MonitoringEvent(worker_id="w1", symbol="005930", position_id=4, price=71_500,
                            pnl_pct="1.25", checks={"stop_loss": False, "take_profit": False})
    before = await db.db_now()
    await sink.publish(event)
    [row] = await fetch_events(db.pool)
    assert row["event_type"] == "MonitoringEvent"
    assert (row["worker_id"], row["symbol"]) == ("w1", "005930")
    payload = row["payload"]
    if isinstance(payload, str):
        import json
        payload = json.loads(payload)
    assert payload == event.payload()
    assert row["occurred_at"] >= before
    [line] = logs.of("MonitoringEvent")
    assert line["worker_id"] == "w1" and line["symbol"] == "005930"
    assert line["price"] == 71_500 and line["host"] == "h1"
    assert line["level"] == "info"


async def test_publish_keeps_order_and_levels(db, logs):
    from tradefleet.adapters.postgres.event_sink import PostgresEventSink

    sink = PostgresEventSink(db)
    await sink.publish(LockRejectedEvent(worker_id="w2", symbol="000660", held_by="w1"))
    await sink.publish(RiskViolationEvent(worker_id="w2", rule="DAILY_LOSS_LIMIT", detail="x",
                                          daily_pnl=-60_000, limit=50_000))
    rows = await fetch_events(db.pool, worker_id="w2")
    assert [r["event_type"] for r in rows] == ["LockRejectedEvent", "RiskViolationEvent"]
    assert [r["level"] for r in logs.records] == ["warning", "warning"]


async def test_log_only_writes_no_row(db, logs):
    from tradefleet.adapters.postgres.event_sink import PostgresEventSink

    sink = PostgresEventSink(db, worker_id_hint="ignored")
    stored_elsewhere = [
        StateTransitionedEvent(worker_id="w1", from_status="IDLE", to_status="SCANNING"),
        StateTransitionedEvent(worker_id="w1", from_status="SCANNING", to_status="LOCKED",
                               symbol="005930"),
    ]
    sink.log(stored_elsewhere)
    assert await fetch_events(db.pool) == []
    assert [r["to_status"] for r in logs.of("StateTransitionedEvent")] == ["SCANNING", "LOCKED"]


def test_log_event_context_does_not_override_event_fields(logs):
    ts = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    log_event(StateTransitionedEvent(worker_id="w9", from_status="A", to_status="B"),
              worker_id="other", host="h1")
    [line] = logs.of("StateTransitionedEvent")
    assert line["worker_id"] == "w9" and line["host"] == "h1"
    assert datetime.fromisoformat(line["ts"].replace("Z", "+00:00")) > ts
