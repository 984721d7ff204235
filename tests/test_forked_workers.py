"""The local fleet's forked workers (issue 17 item 4) behave as the subprocesses they
replace: exactly the environment, argv and working directory handed to them, output in
their own log file, the command's exit code as theirs, their own session so that SIGSTOP,
SIGCONT and SIGKILL by pid or group work, and a fork server with no thread to lose in the
fork. Real processes throughout; the worker's own configuration error is compared with the
spawned one. Clean books through the fork path: tests/test_chaos.py's rig, at small size,
in test_forked_fleet_session.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.local_fleet.forked_start import (
    ForkedProcess,
    ensure_fork_server,
    fleet_start_method,
    start_forked,
)
from tradefleet.local_fleet.processes import Child, ProcessGroup

PROBE = "tests.fork_probe:main"


def _seen(log: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                return json.loads(line)
        time.sleep(0.05)
    raise AssertionError(f"the probe printed nothing: {log.read_text(errors='replace')!r}")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _wait_state(pid: int, wanted: set[str], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while (state := _state(pid)) not in wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    return state


def test_a_forked_child_has_exactly_its_env_argv_cwd_session_and_log(tmp_path, monkeypatch):
    server = ensure_fork_server()
    # the parent's environment now holds what the child must not see
    monkeypatch.setenv("TRADEFLEET_LEAK_CHECK", "parent")
    env = {"PATH": os.environ["PATH"], "TRADEFLEET_WORKER_ID": "w-env", "ONLY_MINE": "é 1"}
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "w-env.log"
    child = start_forked(["worker", "--seed", "5", "7"], env, log, entry=PROBE)
    assert child.wait(60) == 7 and child.returncode == 7
    seen = _seen(log)
    assert seen["environ"] == env
    assert seen["argv"] == ["worker", "--seed", "5", "7"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["pid"] == child.pid and seen["ppid"] == server      # forked by the server
    assert seen["sid"] == child.pid and seen["pgid"] == child.pid   # its own session
    assert seen["tradefleet_cli"], "the server's imports are the child's"
    assert seen["threads"] == 1 and seen["gc"], "one thread, collecting garbage"
    # the server's imports are frozen: a full collection in the child leaves their pages
    # shared (measured: +0.5 MB private after gc.collect(), against +20 MB unfrozen)
    assert seen["frozen"] > 10_000
    assert seen["stdin"] == "/dev/null"
    assert seen["stdout"] == seen["stderr"] == str(log)
    assert "probe: to stderr" in log.read_text()


def test_the_fork_server_has_one_thread_and_its_workers_one_blas_thread(tmp_path):
    """A fork keeps only the forking thread, so the server must have no other. OpenBLAS
    reads its thread count once, at numpy's import in the server (a worker's own setting
    comes too late): held to one there, as a spawned worker holds itself, a forked worker
    does not start a BLAS thread per core."""
    server = ensure_fork_server()
    assert len(os.listdir(f"/proc/{server}/task")) == 1
    maps = Path(f"/proc/{server}/maps").read_text()
    assert "aiohttp" in maps and "numpy" in maps, "the server has imported the worker's modules"
    log = tmp_path / "blas.log"
    child = start_forked(["0"], {"PATH": os.environ["PATH"]}, log, entry=PROBE)
    assert child.wait(60) == 0
    assert _seen(log)["threads_after_blas"] == 1


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_a_bad_setting_exits_2_naming_the_field_in_the_workers_log(tmp_path, start):
    group = ProcessGroup(tmp_path, start_method=start)
    env = {"TRADEFLEET_MODE": "sim", "TRADEFLEET_WORKER_ID": "w-bad",
           "TRADEFLEET_RISK__CAPITAL_LIMIT": "lots", "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1",
           "TRADEFLEET_BROKER__BASE_URL": "http://127.0.0.1:9"}
    child = group.start("w-bad", ["worker"], env)
    assert isinstance(child.proc, ForkedProcess) == (start == "fork")
    assert child.proc.wait(120) == 2
    text = group.tail(child)
    assert "configuration error" in text and "risk.capital_limit" in text, text
    assert "daily_loss_limit" not in text, text           # only the field that is wrong


def test_stop_continue_kill_and_terminate_reach_a_forked_child_by_pid(tmp_path):
    group = ProcessGroup(tmp_path, start_method="fork")
    log = tmp_path / "beat.log"
    child = Child("beat", start_forked(["beat", "0"], dict(os.environ), log, entry=PROBE), log)
    group.children.append(child)
    _seen(log)

    def beats() -> int:
        return log.read_text().count("beat ")

    os.killpg(child.pid, signal.SIGSTOP)
    assert _wait_state(child.pid, {"T"}) == "T"
    before = beats()
    time.sleep(0.5)
    assert beats() == before and child.returncode is None       # stopped, not ended
    os.killpg(child.pid, signal.SIGCONT)
    assert _wait_state(child.pid, {"S", "R"}) in {"S", "R"}
    deadline = time.monotonic() + 20
    while beats() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert beats() > before
    os.kill(child.pid, signal.SIGKILL)
    assert child.proc.wait(20) == -signal.SIGKILL

    second = Child("beat2", start_forked(["beat", "0"], dict(os.environ), tmp_path / "b2.log",
                                         entry=PROBE), tmp_path / "b2.log")
    group.children.append(second)
    _seen(second.log_path)
    group.stop_all(grace=10)
    assert second.returncode == -signal.SIGTERM


def test_the_start_method_setting_names_itself_when_wrong():
    assert fleet_start_method({}) == "fork"
    assert fleet_start_method({"TRADEFLEET_FLEET_START": "spawn"}) == "spawn"
    with pytest.raises(ConfigError, match="TRADEFLEET_FLEET_START"):
        fleet_start_method({"TRADEFLEET_FLEET_START": "clone"})


@pytest.mark.parametrize("command", [["demo", "--no-live"], ["chaos", "--runs", "1"]])
def test_a_bad_start_method_stops_the_command_before_anything_is_written(tmp_path, command):
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")}
    env.update({"TRADEFLEET_FLEET_START": "clone", "TRADEFLEET_STATE_DIR": str(state),
                "COLUMNS": "200"})
    out = subprocess.run([sys.executable, "-m", "tradefleet.cli", *command], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert "configuration error" in out.stdout and "TRADEFLEET_FLEET_START" in out.stdout
    assert not state.exists()


def test_chaos_keeps_the_start_method_for_its_workers(monkeypatch):
    """``tradefleet chaos`` clears every TRADEFLEET_* variable before its workers start,
    but not the one that says how they start."""
    from tradefleet.commands import chaos

    for key in [k for k in os.environ if k.startswith("TRADEFLEET_")]:
        monkeypatch.delenv(key)             # chaos.run clears them; monkeypatch restores
    monkeypatch.setenv("TRADEFLEET_FLEET_START", "spawn")
    monkeypatch.setenv("TRADEFLEET_WORKER_ID", "leak")
    seen = {}

    async def fake_run(opts, console, json_path):      # noqa: ANN001 - the bench's signature
        seen.update(os.environ)
        return 0

    monkeypatch.setattr("tradefleet.local_fleet.chaos_progress.run_with_progress", fake_run)
    parser = __import__("tradefleet.cli", fromlist=["build_parser"]).build_parser(["chaos"])
    assert chaos.run(parser.parse_args(["chaos", "--runs", "1"])) == 0
    assert seen.get("TRADEFLEET_FLEET_START") == "spawn" and "TRADEFLEET_WORKER_ID" not in seen


def test_non_worker_children_stay_subprocesses(tmp_path):
    group = ProcessGroup(tmp_path, start_method="fork")
    child = group.start("help", ["exchange", "--help"], {})
    assert not isinstance(child.proc, ForkedProcess)
    assert child.proc.wait(120) == 0
    assert sys.executable and "--port" in group.tail(child, 200)
