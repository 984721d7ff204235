"""``tradefleet demo --feed`` as a user runs it, short and fast: the end of a session
(``--from``) with the exchange's WebSocket feed. Exits are decided on ticks (each worker's log
says so, and the demo counts them), the live table marks each worker's feed, and the
exchange's books are clean at the end."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tests.demo_env import demo_env

from tradefleet.commands.demo import register

ON_THE_TICK = '"exit condition met on the tick"'
LIVE = '"feed live: exits decided on each tick"'


def test_demo_with_the_feed_decides_exits_on_ticks_and_marks_each_workers_feed():
    state = tempfile.mkdtemp(prefix="tradefleet-demo-feed-")
    env = {**demo_env(state), "COLUMNS": "260"}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tradefleet.cli", "demo", "--feed", "--workers", "3",
             "--symbols", "20", "--from", "13:30", "--lag-limit", "15", "--no-live"],
            env=env, capture_output=True, text=True, timeout=240)
        out = proc.stdout
        assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
        assert ", from 13:30)" in out            # the short session asked for
        assert "0 shares still held" in out and "0 executions without matching fills" in out
        logs = {p.stem: p.read_text(errors="replace")
                for p in (Path(state) / "demo-logs").glob("w*.log")}
        assert sorted(logs) == ["w1", "w2", "w3"]
        # exits decided on ticks: each one a line of its worker's log, the demo's count theirs
        on_tick = sum(text.count(ON_THE_TICK) for text in logs.values())
        said = re.search(r"feed: (\d+) exits decided on a tick", out)
        assert said is not None, out[-2000:]
        assert int(said.group(1)) == on_tick >= 1, (said.group(0), on_tick)
        # every worker's feed went live (the mark's source), and the table has the column
        assert all(LIVE in text for text in logs.values())
        header = next(line for line in out.splitlines() if "lock token" in line)
        assert header.rstrip(" ┃").endswith("feed"), header
        for wid in ("w1", "w2", "w3"):
            row = next(line for line in out.splitlines() if line.startswith(f"│ {wid} "))
            assert row.rstrip(" │").split()[-1] in ("live", "polling", "stopped"), row
    finally:
        subprocess.run(["pkill", "-f", "--", f"-D {state}"], check=False)
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.parametrize("value", ["8:59", "15:01", "2pm"])
def test_demo_from_outside_the_session_is_refused_naming_the_flag(value, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--from", value])
    err = capsys.readouterr().err
    assert "--from" in err and value in err
