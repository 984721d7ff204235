"""Spec §6 on the lines a worker really writes: one worker runs its own loop (Worker.run,
as `tradefleet worker` does) from the afternoon to the close on a frozen clock that moves
only when the worker sleeps between polls. It trades, is liquidated at 15:15, stops at the
close (→ EXIT), and meets one broker timeout on the way. Every §6.2 line is read back from
the captured log and checked against the rows it describes, at its §6.1 level."""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal

from tests.scenarios.evidence import has_fields, lines
from tests.scenarios.harness import worker_env

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.exits import ExitParams
from tradefleet.settings import load_settings
from tradefleet.worker.launch import launch

START = datetime(2026, 11, 24, 14, 40, 10, tzinfo=SEOUL)


async def test_a_worker_day_writes_every_required_line_with_its_fields(db, logs):
    clock = FrozenClock(START)
    market = SimMarket(7, n_symbols=30, clock=clock)
    market.faults.set("get_quotes", "timeout", count=1)          # one API timeout
    # exits at ±0.8 %: positions turn over before 15:10 (the earliest entry cutoff, 5 min
    # before the 15:15 liquidation) and the last one bought is still held at 15:15
    settings = load_settings(None, worker_env(
        "w-log", exits=ExitParams(Decimal("0.8"), Decimal("0.8"), 120, 0),
        TRADEFLEET_POLL_INTERVAL_SECONDS="20", TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES="5"))
    code = await launch(settings, broker=SimBroker(market), clock=clock,
                        universe=market.symbols(), db=db, install_signals=False,
                        track_timeout_s=1.0, retry_base_delay=0.001)
    assert code == 0 and clock.now() >= datetime(2026, 11, 24, 15, 30, tzinfo=SEOUL)
    mine = [r for r in logs.records if r.get("worker_id") == "w-log"]
    assert mine and not [r for r in mine if r["level"] not in ("info", "warning", "error")]

    # worker start / stop: worker_id, pid, status (INFO)
    [started] = lines(logs, event_type="WorkerStartedEvent", worker_id="w-log")
    [stopped] = lines(logs, event_type="WorkerStoppedEvent", worker_id="w-log")
    assert (started["level"], started["pid"], started["status"]) == ("info", os.getpid(), "IDLE")
    assert (stopped["level"], stopped["pid"], stopped["status"]) == ("info", os.getpid(), "EXIT")
    [said_stop] = lines(logs, event="worker stopped", worker_id="w-log")
    assert said_stop["level"] == "info" and said_stop["pid"] == os.getpid()

    # every transition, IDLE → SCAN → HOLD → SCAN → EXIT (INFO), as the workers row went
    moves = lines(logs, event_type="StateTransitionedEvent", worker_id="w-log")
    path = [(m["from_status"], m["to_status"]) for m in moves]
    assert path[0] == ("IDLE", "SCAN") and path[-1] == ("SCAN", "EXIT")
    assert ("SCAN", "HOLD") in path and ("HOLD", "SCAN") in path
    assert all(a[1] == b[0] for a, b in zip(path, path[1:], strict=False))   # one chain
    assert {m["level"] for m in moves} == {"info"}
    assert (await db.pool.fetchrow("SELECT status FROM workers"))["status"] == "EXIT"
    stored = await db.pool.fetch("SELECT payload FROM events WHERE event_type = "
                                 "'StateTransitionedEvent' ORDER BY event_id")
    assert [(p["payload"]["from_status"], p["payload"]["to_status"]) for p in stored] == path

    # lock acquired / released: symbol, worker_id, locked_at
    for kind in ("LockAcquiredEvent", "LockReleasedEvent"):
        logged = lines(logs, event_type=kind, worker_id="w-log")
        rows = await db.pool.fetch("SELECT symbol, payload FROM events WHERE event_type = $1 "
                                   "ORDER BY event_id", kind)
        assert logged and len(logged) == len(rows)
        for line, row in zip(logged, rows, strict=True):
            has_fields(line, "symbol", "worker_id", "locked_at")
            assert line["level"] == "info" and line["symbol"] == row["symbol"]
            assert datetime.fromisoformat(line["locked_at"]) == \
                datetime.fromisoformat(row["payload"]["locked_at"])

    # order created / sent: order_id, symbol, side, qty, status, for each order, both sides
    orders = {r["order_id"]: r for r in await db.pool.fetch("SELECT * FROM orders")}
    assert {o["side"] for o in orders.values()} == {"BUY", "SELL"}
    for kind, status in (("OrderCreatedEvent", "NEW"), ("OrderSentEvent", "SENT")):
        logged = lines(logs, event_type=kind, worker_id="w-log")
        assert sorted(r["order_id"] for r in logged) == sorted(orders)
        for line in logged:
            has_fields(line, "order_id", "symbol", "side", "qty", "status")
            o = orders[line["order_id"]]
            assert (line["symbol"], line["side"], line["qty"], line["status"], line["level"]) \
                == (o["symbol"], o["side"], o["qty"], status, "info")

    # fill received: fill_id, symbol, price, qty, one line per fills row
    fills = {r["fill_id"]: r for r in await db.pool.fetch("SELECT * FROM fills")}
    logged = lines(logs, event_type="OrderFilledEvent", worker_id="w-log")
    assert sorted(r["fill_id"] for r in logged) == sorted(fills) and fills
    for line in logged:
        has_fields(line, "fill_id", "symbol", "price", "qty")
        f = fills[line["fill_id"]]
        assert (line["symbol"], Decimal(line["price"]), line["qty"], line["level"]) == \
            (f["symbol"], f["price"], f["qty"], "info")

    # PnL calculated: pnl and win/loss, one line per closed position
    closed = await db.pool.fetch("SELECT position_id, realized_pnl FROM positions "
                                 "WHERE status = 'CLOSED' ORDER BY position_id")
    logged = lines(logs, event_type="PnlCalculatedEvent", worker_id="w-log")
    assert [(r["position_id"], r["pnl"]) for r in logged] == [tuple(c) for c in closed]
    for line in logged:
        assert line["level"] == "info" and line["result"] in ("win", "loss", "flat")
        assert (line["result"] == "win") == (line["pnl"] > 0)
    assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE status = 'OPEN'") == 0
    # held at 15:15: liquidated (INFO), then nothing bought until the close
    [liquidated] = lines(logs, event_type="MandatoryLiquidationEvent", worker_id="w-log")
    assert liquidated["level"] == "info"
    last = await db.pool.fetchrow("SELECT exit_reason FROM positions ORDER BY position_id DESC")
    assert last["exit_reason"] == "LIQUIDATION"

    # the API timeout: ERROR, with the error type and the stack trace
    [timeout] = lines(logs, event="broker call failed", worker_id="w-log")
    assert (timeout["level"], timeout["error_type"], timeout["operation"]) == \
        ("error", "BrokerTimeout", "get_quotes")
    assert timeout["stack"].startswith("Traceback") and "BrokerTimeout" in timeout["stack"]
    # the trading mode is not on any line (spec §5.1)
    assert '"mode"' not in logs.text and "'mode'" not in logs.text
