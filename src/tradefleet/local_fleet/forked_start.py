"""Worker processes of a local fleet forked from a pre-imported parent (issue 17 item 4).

A ``tradefleet worker`` started as a new interpreter spends most of its start-up CPU on
imports (aiohttp, pydantic, numpy, asyncpg, our modules). The standard library's
``forkserver`` start method keeps one single-threaded server process that has imported them
once (``worker_preload``) and forks a child per worker: no event loop, thread or connection
is inherited, and the imported pages are shared copy-on-write.

The child is made to look like the subprocess it replaces: its own session (signals reach
it by pid or group), stdin from /dev/null, stdout and stderr to its log file, exactly the
environment, argv and working directory it is given, and the worker's exit code as its
own. ``TRADEFLEET_FLEET_START=spawn`` goes back to one new interpreter per worker. Under
Kubernetes none of this applies: a pod runs one worker process, started as a command."""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

START_ENV = "TRADEFLEET_FLEET_START"
START_METHODS = ("fork", "spawn")
# "__main__": the parent's main script, imported once by the server; without it the standard
# library would run that script again in every child (a module run with -m is not re-run)
PRELOAD = ["__main__", "tradefleet.commands.worker_preload"]

_context = multiprocessing.get_context("forkserver")


def fleet_start_method(environ: Mapping[str, str] = os.environ) -> str:
    """``fork`` (default) or ``spawn``, from TRADEFLEET_FLEET_START; anything else is an
    error that names the variable."""
    from tradefleet.domain.errors import ConfigError

    value = environ.get(START_ENV, "fork").strip().lower() or "fork"
    if value not in START_METHODS:
        raise ConfigError(f"{START_ENV}: must be one of {', '.join(START_METHODS)}, "
                         f"got {value!r}")
    return value


_ready_server: list[int] = []      # the pid of the server known to have finished importing


def ensure_fork_server() -> int:
    """Start the fork server if it is not running and wait until it has imported the
    worker's modules (one no-op child forked and reaped); return its pid. The server ends
    when this process does."""
    from multiprocessing import forkserver

    _context.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()
    pid = forkserver._forkserver._forkserver_pid     # noqa: SLF001 - to know it is new
    if pid not in _ready_server:
        probe = _context.Process(target=_imported, name="tradefleet fork-server probe")
        probe.start()
        probe.join()
        _ready_server[:] = [pid]
    return pid


def _imported() -> None:
    """The probe's child: forked only once the server's imports are done."""


class ForkedProcess:
    """A forked worker with the part of ``subprocess.Popen``'s interface the fleet uses:
    ``pid``, ``poll()``, ``wait(timeout)`` and ``returncode`` (negative: killed by that
    signal)."""

    def __init__(self, process: multiprocessing.process.BaseProcess, args: list[str]):
        self._process = process
        self.args = args

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code


CLI_ENTRY = "tradefleet.cli:main"


def start_forked(args: list[str], env: Mapping[str, str], log_path: Path, *,
                 entry: str = CLI_ENTRY) -> ForkedProcess:
    """Fork ``tradefleet <args>`` from the fork server with exactly ``env``, writing its
    stdout and stderr to ``log_path`` (created or truncated here, as for a subprocess).
    ``entry`` ("module:function", called with ``args``, returning the exit code) is the
    command line's ``main`` but for tests that look at the child itself."""
    ensure_fork_server()
    log_path.open("wb").close()
    process = _context.Process(target=run_forked_child,
                               args=(entry, list(args), dict(env), str(log_path),
                                     os.getcwd()),
                               name=f"tradefleet {' '.join(args)}", daemon=True)
    process.start()
    return ForkedProcess(process, ["tradefleet", *args])


def run_forked_child(entry: str, args: list[str], env: dict[str, str], log_path: str,
                     cwd: str) -> None:
    """In the forked child: become what ``python -m tradefleet.cli <args>`` in a new session
    would be, then run the command; its return value is the exit code."""
    os.setsid()
    gc.enable()             # off in the server while it imported (worker_preload)
    _redirect(log_path)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    module_name, _, function = entry.partition(":")
    module = importlib.import_module(module_name)
    sys.argv = [getattr(module, "__file__", module_name), *args]
    sys.exit(getattr(module, function)(args))


def _redirect(log_path: str) -> None:
    """fd 0 from /dev/null, fds 1 and 2 to the log; Python's streams rebuilt on them (the
    server's were made for the parent's terminal)."""
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdin
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - its stdout
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace",  # noqa: SIM115
                      closefd=False)
