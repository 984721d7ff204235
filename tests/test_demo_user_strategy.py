"""`tradefleet demo` with a user's own strategy from a file in a temp folder, loaded by path
by every worker process, trading live against the exchange simulator; `--record DIR` leaves
the day behind in the recorded-day format. A bad --record or --strategy-path is refused,
named, before anything starts."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from tests.demo_env import demo_env
from tests.user_strategy import USER_STRATEGY

from tradefleet.adapters.postgres.database import Database
from tradefleet.replay.day_format import read_day, recorded_days

SYMBOLS = 12


def _demo(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tradefleet.cli", "demo", "--no-live", *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_a_users_strategy_trades_in_the_demo_and_the_day_is_recorded(tmp_path: Path) -> None:
    strategy = tmp_path / "mine" / "rise.py"
    strategy.parent.mkdir()
    strategy.write_text(textwrap.dedent(USER_STRATEGY))
    data = tmp_path / "data"
    state = tempfile.mkdtemp(prefix="tradefleet-demo-")
    env = demo_env(state)
    try:
        bad = _demo(env, "--strategy", "user_rise", "--strategy-path", str(tmp_path / "no.py"))
        assert bad.returncode == 2 and "strategy.path" in bad.stdout, bad.stdout
        proc = _demo(env, "--workers", "1", "--symbols", str(SYMBOLS), "--speed", "800",
                     "--strategy", "user_rise", "--strategy-path", str(strategy),
                     "--record", str(data))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "0 shares still held" in proc.stdout
        (folder,) = recorded_days(data)
        day = read_day(folder)
        assert len(day.meta.symbols) == SYMBOLS and len(day.bars["start"]) > 0
        again = _demo(env, "--record", str(data))       # that day is there: refused at once
        assert again.returncode == 2 and "--record" in again.stdout, again.stdout

        async def strategies() -> set[str]:
            import pgserver

            server = pgserver.get_server(os.path.join(state, "pgdata"), cleanup_mode=None)
            db = await Database.connect(server.get_uri("tradefleet_demo"), min_size=1,
                                        max_size=2)
            try:
                rows = await db.pool.fetch("SELECT DISTINCT strategy_name FROM positions")
                return {r["strategy_name"] for r in rows}
            finally:
                await db.close()
                server.cleanup()

        assert asyncio.run(strategies()) == {"user_rise"}
    finally:
        subprocess.run(["pkill", "-f", "--", f"-D {state}"], check=False)  # this test's own
        shutil.rmtree(state, ignore_errors=True)
