"""SIGTERM to a real `tradefleet worker --sim` process holding a position: it stops buying,
keeps the position and its lock for the next start, records why, and exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import asyncpg
from tests.scenarios.test_restart_recovery import HOLDING


async def test_sigterm_while_holding_keeps_position_and_exits_zero(pg_dsn):
    env = {**os.environ, **HOLDING, "TRADEFLEET_DB__DSN": pg_dsn,
           "TRADEFLEET_WORKER_ID": "w-term", "TRADEFLEET_POLL_INTERVAL_SECONDS": "60",
           "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "10000000", "TRADEFLEET_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradefleet.cli", "worker", "--sim", "--speed", "600",
        "--symbols", "30", "--seed", "17", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    conn = await asyncpg.connect(pg_dsn)
    try:
        for _ in range(400):
            status = await conn.fetchval("SELECT status FROM workers WHERE worker_id = 'w-term'")
            if status == "HOLD" or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert status == "HOLD", (await proc.communicate())[1][-2000:]
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, err[-2000:]

        row = await conn.fetchrow("SELECT * FROM workers WHERE worker_id = 'w-term'")
        assert row["status"] == "EXIT"
        pos = await conn.fetchrow("SELECT * FROM positions WHERE status = 'OPEN'")
        assert pos is not None and pos["qty"] > 0
        lock = await conn.fetchrow("SELECT * FROM stock_locks")
        assert (lock["symbol"], lock["worker_id"]) == (pos["symbol"], "w-term")
        assert await conn.fetchval("SELECT count(*) FROM orders WHERE side = 'SELL'") == 0
        stopped = await conn.fetchrow(
            "SELECT payload FROM events WHERE event_type = 'WorkerStoppedEvent'")
        reason = json.loads(stopped["payload"])["reason"]
        assert "SIGTERM" in reason and pos["symbol"] in reason
    finally:
        await conn.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
