"""`tradefleet demo` with more workers than the cores can poll at the asked speed: the demo
derives a slower start speed from the worker count, slows the session clock further whenever
a worker's poll lasts more than the lag limit, and ends with clean books (0 shares held at
the close by the exchange's own books). The full 50 runs in bench/scale.py."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest
from tests.demo_env import demo_env

from tradefleet.adapters.postgres.database import Database

WORKERS = 10
ASKED = 1500


@pytest.mark.timeout(1000)      # a whole session, slowed down as far as the machine needs
def test_demo_ten_workers_on_two_cores_keeps_pace_and_ends_flat(tmp_path):
    import shutil
    import tempfile

    state = tempfile.mkdtemp(prefix="tradefleet-demo-pace-")
    env = demo_env(state)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tradefleet.cli", "demo", "--workers", str(WORKERS),
             "--speed", str(ASKED), "--no-live"],
            env=env, capture_output=True, text=True, timeout=900)
        out = proc.stdout
        assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
        # the start speed was derived from the worker count, not taken as asked
        started = re.search(r"session clock started \(.*?, (\d+)x for 10 workers on (\d+) "
                            r"cores \(asked 1500x\)\)", out)
        assert started, out[-3000:]
        start = int(started.group(1))
        assert start < ASKED
        # every speed change announced lowers a lagging clock or raises a calm one, never
        # past the start speed
        for old, new in re.findall(r"session clock (\d+)x -> (\d+)x", out):
            assert int(new) <= start and int(old) <= start
        assert "pace kept" in out and "could not keep up" not in out
        assert "0 shares still held" in out, out[-2000:]
        assert "0 executions without matching fills rows" in out
        assert f"{WORKERS} of {WORKERS} workers ready" in out

        async def check() -> None:
            import pgserver

            server = pgserver.get_server(os.path.join(state, "pgdata"), cleanup_mode=None)
            db = await Database.connect(server.get_uri("tradefleet_demo"), min_size=1,
                                        max_size=2)
            try:
                pool = db.pool
                # every worker measured its polls in session time
                assert await pool.fetchval(
                    "SELECT count(*) FROM poll_lags WHERE polls > 0") == WORKERS
                assert await pool.fetchval(
                    "SELECT count(*) FROM positions WHERE status = 'OPEN'") == 0
                assert await pool.fetchval("SELECT count(*) FROM stock_locks") == 0
                # scans went through the shared store, and every scan a worker read
                # shared is one that a worker of the fleet computed
                assert await pool.fetchval(
                    "SELECT count(*) FROM shared_scans WHERE result IS NOT NULL") > 0
                assert await pool.fetchval(
                    """SELECT count(*) FROM events r
                        WHERE r.event_type = 'CandidateScannedEvent'
                          AND (r.payload->>'shared')::bool AND NOT EXISTS (
                              SELECT 1 FROM events c
                               WHERE c.event_type = 'CandidateScannedEvent'
                                 AND NOT (c.payload->>'shared')::bool
                                 AND c.payload->>'scan_id' = r.payload->>'scan_id')
                    """) == 0
                # and some of them another worker's (a worker that polls twice in one quote
                # window, as a slowed clock allows, reads back its own ranking)
                assert await pool.fetchval(
                    """SELECT count(*) FROM events r JOIN events c
                           ON c.payload->>'scan_id' = r.payload->>'scan_id'
                          AND c.event_type = 'CandidateScannedEvent'
                          AND NOT (c.payload->>'shared')::bool
                          AND c.worker_id <> r.worker_id
                        WHERE r.event_type = 'CandidateScannedEvent'
                          AND (r.payload->>'shared')::bool""") > 0
            finally:
                await db.close()
            server.cleanup()

        asyncio.run(check())
    finally:
        subprocess.run(["pkill", "-f", "--", f"-D {state}"], check=False)
        shutil.rmtree(state, ignore_errors=True)
