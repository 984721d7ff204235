"""SC-001: start-up loads settings, authenticates, registers IDLE, announces itself and
moves IDLE -> SCAN; nothing secret reaches the log. (The same on the KIS path, with a real
token issued over HTTP and encrypted secrets: tests/test_sec5_kis_paper_tls.py.)

검증: log (settings loaded, authentication succeeded, transitions), workers row with the
worker_id and status IDLE/SCAN, WorkerStartedEvent. §5.2: a worker whose settings lack what
it needs does not start, and writes nothing."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime

from tests.db_facts import public_tables

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.cli import main
from tradefleet.settings import load_settings
from tradefleet.worker.launch import launch

APPKEY = "PSsecretAppKey1234567890"
APPSECRET = "verySecretAppSecretValue0987654321"
CANO = "73125501"


def settings_for(worker_id: str, **extra: str):
    env = {"TRADEFLEET_WORKER_ID": worker_id, "TRADEFLEET_MODE": "sim",
           "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
           "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "300000",
           "TRADEFLEET_POLL_INTERVAL_SECONDS": "60",
           "TRADEFLEET_BROKER__APPKEY": APPKEY, "TRADEFLEET_BROKER__APPSECRET": APPSECRET,
           "TRADEFLEET_ACCOUNT__CANO": CANO,
           "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": "0.2", **extra}
    return load_settings(None, env)


async def wait_for_status(db, worker_id: str, status: str, task: asyncio.Task,
                          timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if task.done():
            task.result()                     # surfaces the worker's exception
            raise AssertionError(f"{worker_id} ended before reaching {status}")
        if await db.pool.fetchval(
                "SELECT status FROM workers WHERE worker_id = $1", worker_id) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{worker_id} never reached {status}")


async def test_start_registers_authenticates_and_enters_scan(db, logs):
    settings = settings_for("w-start")
    clock = SimClock(datetime(2026, 11, 24, 8, 59, tzinfo=SEOUL), speed=60)
    market = SimMarket(3, n_symbols=20, clock=clock)
    built = []
    task = asyncio.create_task(launch(settings, broker=SimBroker(market), clock=clock,
                                      universe=market.symbols(), db=db,
                                      install_signals=False, on_built=built.append))
    await wait_for_status(db, "w-start", "SCAN", task)
    built[0].request_stop("test over")
    assert await asyncio.wait_for(task, 10) == 0

    row = await db.pool.fetchrow("SELECT * FROM workers WHERE worker_id = 'w-start'")
    assert row["mode"] == "sim" and row["status"] == "EXIT"
    kinds = [(r["event_type"], r["payload"]) for r in await db.pool.fetch(
        "SELECT event_type, payload FROM events WHERE worker_id = 'w-start' ORDER BY event_id")]
    names = [k for k, _ in kinds]
    assert names.index("AuthenticatedEvent") < names.index("WorkerStartedEvent")
    started = next(p for k, p in kinds if k == "WorkerStartedEvent")
    assert started["status"] == "IDLE"
    assert (started["capital_limit"], started["daily_loss_limit"]) == (5_000_000, 300_000)
    assert started["liquidation_at"].startswith("2026-11-24T15:15")
    transitions = [(p["from_status"], p["to_status"]) for k, p in kinds
                   if k == "StateTransitionedEvent"]
    assert transitions[0] == ("IDLE", "SCAN")
    assert names.index("WorkerStartedEvent") < names.index("StateTransitionedEvent")

    records = logs.records
    levels = {r.get("event"): r["level"] for r in records}
    assert levels["configuration loaded"] == "info"
    assert levels["AuthenticatedEvent"] == "info"
    assert levels["StateTransitionedEvent"] == "info"
    assert levels["WorkerStartedEvent"] == "info"
    [loaded] = [r for r in records if r.get("event") == "configuration loaded"]
    assert (loaded["capital_limit"], loaded["daily_loss_limit"],
            loaded["liquidation_offset_minutes"]) == (5_000_000, 300_000, 15)   # risk defaults
    [line] = logs.of("WorkerStartedEvent")
    assert (line["worker_id"], line["pid"], line["status"]) == ("w-start", os.getpid(), "IDLE")
    moves = [(r["from_status"], r["to_status"]) for r in logs.of("StateTransitionedEvent")]
    assert moves[0] == ("IDLE", "SCAN") and moves[-1][1] == "EXIT"
    for secret in (APPKEY, APPSECRET, CANO, '"mode"'):
        assert secret not in logs.text


def test_worker_without_its_risk_limits_refuses_to_start_and_writes_nothing(
        empty_pg_dsn, monkeypatch, capsys):
    """§5.2: `tradefleet worker` with the capital and daily loss limits missing exits 2,
    naming both, before the database is touched."""
    for name in ("TRADEFLEET_RISK__CAPITAL_LIMIT", "TRADEFLEET_RISK__DAILY_LOSS_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRADEFLEET_WORKER_ID", "w-unset")
    monkeypatch.setenv("TRADEFLEET_MODE", "paper")
    monkeypatch.setenv("TRADEFLEET_DB__DSN", empty_pg_dsn)
    assert main(["worker"]) == 2
    out = capsys.readouterr().out
    assert "risk.capital_limit" in out and "risk.daily_loss_limit" in out

    assert asyncio.run(public_tables(empty_pg_dsn)) == 0
