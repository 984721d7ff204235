"""`tradefleet demo` as CI runs it: several worker processes, the exchange simulator and
embedded Postgres, a whole session at high speed, checked from the database afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from tests.demo_env import demo_env

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.lock_history import find_double_holds


def test_demo_three_workers_whole_session(tmp_path):
    import shutil
    import tempfile

    state = tempfile.mkdtemp(prefix="tradefleet-demo-")
    env = demo_env(state)
    try:
        proc = subprocess.run(
            # the README's own speed (600): its liquidation window (close - 15 min) is 1.5 real
            # seconds; at 1200 it was 0.75 s, too short to settle a sell on a loaded machine
            [sys.executable, "-m", "tradefleet.cli", "demo", "--workers", "3", "--no-live"],
            env=env, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "Daily summary" in proc.stdout and "0 double holds" in proc.stdout
        # judged by the exchange's own books, not only our rows
        assert "0 shares still held" in proc.stdout, proc.stdout[-2000:]
        assert "0 executions without matching fills rows" in proc.stdout
        # the session clock started only once the whole fleet was ready, so every worker
        # saw the whole session of a market that signals through most of it
        # (tests/test_demo_market.py): every worker traded
        assert "3 of 3 workers ready" in proc.stdout

        async def check() -> None:
            import pgserver

            server = pgserver.get_server(os.path.join(state, "pgdata"), cleanup_mode=None)
            dsn = server.get_uri("tradefleet_demo")
            db = await Database.connect(dsn, min_size=1, max_size=2)
            try:
                pool = db.pool
                assert await pool.fetchval(
                    "SELECT count(*) FROM positions WHERE status = 'OPEN'") == 0
                assert await pool.fetchval("SELECT count(*) FROM stock_locks") == 0
                assert await pool.fetchval(
                    "SELECT count(*) FROM workers WHERE current_symbol IS NOT NULL") == 0
                assert await pool.fetchval(
                    "SELECT count(DISTINCT worker_id) FROM daily_summaries") == 3
                assert await pool.fetchval(
                    "SELECT count(*) FROM orders WHERE status IN "
                    "('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')") == 0
                doubles, acquisitions = await find_double_holds(db)
                assert doubles == [] and acquisitions > 0
                # every worker reached EXIT through the state machine
                assert await pool.fetchval(
                    "SELECT count(*) FROM workers WHERE status = 'EXIT'") == 3
                assert await pool.fetchval(
                    "SELECT count(DISTINCT worker_id) FROM positions "
                    "WHERE status = 'CLOSED'") == 3
            finally:
                await db.close()
            server.cleanup()

        asyncio.run(check())
    finally:
        subprocess.run(["pkill", "-f", "--", f"-D {state}"], check=False)
        shutil.rmtree(state, ignore_errors=True)
