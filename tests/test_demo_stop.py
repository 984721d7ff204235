"""Stopping ``tradefleet demo`` mid-session (Ctrl-C, ``kill``): no orphan process, nothing
half-written. The demo runs as a real process tree; every process it starts inherits a
marker in its environment, which is how leftovers are found afterwards."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.lock_history import find_double_holds

WORKERS = 3
POSTGRES_COMMANDS = {"postgres", "pg_ctl", "initdb"}   # the embedded server outlives a run


def _marked_processes(marker: str) -> list[tuple[int, str]]:
    """(pid, command) of live, non-Postgres processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            comm = (entry / "comm").read_text().strip()
            state = next((ln for ln in (entry / "status").read_text().splitlines()
                          if ln.startswith("State:")), "")
        except OSError:
            continue
        if comm not in POSTGRES_COMMANDS and "zombie" not in state:
            found.append((int(entry.name), comm))
    return found


def _multiprocessing_role(pid: int) -> str:
    """"forkserver" or "resource_tracker" for multiprocessing's helper processes, else ""."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
    for role in ("forkserver", "resource_tracker"):
        if f"multiprocessing.{role} import main" in cmdline:
            return role
    return ""


async def _wait_until_trading(dsn: str, within: float) -> None:
    """Until every worker has registered and at least one lock has been taken."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(dsn, timeout=2)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.3)
            continue
        try:
            workers = await conn.fetchval(
                "SELECT count(*) FROM workers WHERE status IN ('SCAN', 'HOLD')")
            locked = await conn.fetchval("SELECT count(*) FROM events "
                                         "WHERE event_type = 'LockAcquiredEvent'")
            if workers == WORKERS and locked > 0:
                return
        except asyncpg.PostgresError:
            pass                                 # tables not migrated yet
        finally:
            await conn.close()
        await asyncio.sleep(0.3)
    raise AssertionError(f"the demo's workers were not trading within {within}s")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_demo_stopped_mid_session_leaves_no_process_and_nothing_half_written(sig):
    import pgserver

    state = tempfile.mkdtemp(prefix="tradefleet-demo-stop-")
    marker = f"TF_TEST_MARKER={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")}
    env.update({"TRADEFLEET_STATE_DIR": state, "COLUMNS": "160",
                marker.split("=")[0]: marker.split("=")[1]})
    demo = subprocess.Popen(
        [sys.executable, "-m", "tradefleet.cli", "demo", "--workers", str(WORKERS),
         "--speed", "60", "--no-live"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    server = None
    try:
        deadline = time.monotonic() + 60
        while not (Path(state) / "pgdata" / "postmaster.pid").exists():
            assert demo.poll() is None, demo.stdout.read()
            assert time.monotonic() < deadline, "embedded Postgres did not start"
            await asyncio.sleep(0.2)
        server = pgserver.get_server(os.path.join(state, "pgdata"), cleanup_mode=None)
        dsn = server.get_uri("tradefleet_demo")
        await _wait_until_trading(dsn, 90)
        # demo, exchange, workers, and (workers forked, the default) the fork server and the
        # resource tracker that multiprocessing starts with it
        marked = _marked_processes(marker)
        assert len(marked) == 1 + 1 + WORKERS + 2, marked
        helpers = sorted(_multiprocessing_role(pid) for pid, _ in marked)
        assert helpers[-2:] == ["forkserver", "resource_tracker"], helpers

        demo.send_signal(sig)                    # what Ctrl-C / kill deliver to the demo
        out, _ = await asyncio.to_thread(demo.communicate, timeout=60)
        assert demo.returncode == 128 + int(sig), out[-3000:]
        assert f"stopped by {sig.name}" in out
        assert _marked_processes(marker) == []   # no orphan: exchange, workers, fork server

        db = await Database.connect(dsn, min_size=1, max_size=2)
        try:
            pool = db.pool
            # each worker left through its own stop path, not killed
            assert await pool.fetchval(
                "SELECT count(*) FROM workers WHERE status = 'EXIT'") == WORKERS
            # no order row was left between "written" and "answered"
            unsettled = await pool.fetch(
                "SELECT * FROM orders WHERE status IN ('NEW', 'SENT', 'UNKNOWN')")
            assert not unsettled, "; ".join(str(dict(r)) for r in unsettled)
            # a position kept over the stop keeps its owner's lock (a restart resumes it)
            assert await pool.fetchval(
                """SELECT count(*) FROM positions p WHERE p.status = 'OPEN' AND NOT EXISTS (
                       SELECT 1 FROM stock_locks l
                        WHERE l.symbol = p.symbol AND l.worker_id = p.worker_id)""") == 0
            # every fill is reflected in its order, and no symbol was ever held twice
            assert await pool.fetchval(
                """SELECT count(*) FROM orders o WHERE o.filled_qty <> coalesce(
                       (SELECT sum(f.qty) FROM fills f WHERE f.order_id = o.order_id), 0)""") == 0
            doubles, acquisitions = await find_double_holds(db)
            assert doubles == [] and acquisitions > 0
        finally:
            await db.close()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for pid, _ in _marked_processes(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if server is not None:
            server.cleanup()
        subprocess.run(["pkill", "-f", "--", f"-D {state}"], check=False)
        shutil.rmtree(state, ignore_errors=True)
