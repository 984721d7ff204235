"""Child processes of the local fleet: started in their own sessions so that only the
supervisor signals them, and always stopped — SIGTERM, then SIGKILL — so none is orphaned.
Workers are forked from a pre-imported fork server (``forked_start``) unless
TRADEFLEET_FLEET_START=spawn; every other child (the exchange) is a new interpreter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tradefleet.domain.liquidation import DEFAULT_SCAN_MAX_AGE_SECONDS
from tradefleet.local_fleet.forked_start import (
    ForkedProcess,
    ensure_fork_server,
    fleet_start_method,
    start_forked,
)

# Real seconds a sim worker may take from its scan's quotes to its order on a loaded machine
# (HTTP exchange, Postgres, two cores shared by the fleet); see compressed_scan_max_age.
SCAN_TO_ORDER_REAL_S = 2.0


def compressed_scan_max_age(speed: float) -> str:
    """risk.scan_max_age_seconds for workers of a day compressed ``speed`` times: their real
    latency is ``speed`` times as many session seconds, so the limit is stated in real
    seconds (SCAN_TO_ORDER_REAL_S), never below the workers' default nor above the setting's
    maximum. Until the demo and the chaos bench adapt their speed to the fleet's lag
    (issue 17 item 2), this keeps the rule in force there without starving every entry."""
    return str(int(min(3600, max(DEFAULT_SCAN_MAX_AGE_SECONDS, SCAN_TO_ORDER_REAL_S * speed))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen | ForkedProcess
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()


@dataclass
class ProcessGroup:
    log_dir: Path
    children: list[Child] = field(default_factory=list)
    # how workers start: "fork" (from the fork server) or "spawn" (python -m tradefleet.cli)
    start_method: str = field(default_factory=fleet_start_method)

    def __post_init__(self) -> None:
        if self.start_method == "fork":     # imports once, before the first worker is due
            ensure_fork_server()

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        if self.start_method == "fork" and args[:1] == ["worker"]:
            child = Child(name, start_forked(args, {**os.environ, **env}, log_path), log_path)
            self.children.append(child)
            return child
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child for its lifetime
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, argv list, no shell
            [sys.executable, "-m", "tradefleet.cli", *args], env={**os.environ, **env},
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def running(self) -> list[Child]:
        return [c for c in self.children if c.returncode is None]

    def stop_all(self, grace: float = 15.0, *, first: Collection[str] = ()) -> None:
        """SIGTERM the children named in ``first`` and wait for them, then the rest; each
        stage gets up to ``grace`` seconds before SIGKILL. The workers go first so that an
        order in flight is settled against an exchange that is still there."""
        stages = [[c for c in self.children if c.name in first],
                  [c for c in self.children if c.name not in first]]
        for stage in stages:
            live = [c for c in stage if c.returncode is None]
            for child in live:
                _signal(child, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while any(c.returncode is None for c in live) and time.monotonic() < deadline:
                time.sleep(0.1)
            for child in live:
                if child.returncode is None:
                    _signal(child, signal.SIGKILL)
        for child in self.children:
            try:
                child.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - kernel refused to reap
                pass

    def tail(self, child: Child, lines: int = 20) -> str:
        try:
            return "\n".join(child.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal(child: Child, sig: signal.Signals) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
