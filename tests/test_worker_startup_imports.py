"""A worker's start-up imports only what it uses (issue 17: start-up is recovery, and 50
workers share two cores). Run in a fresh interpreter: the command line as ``tradefleet
worker`` parses it, the modules the worker command and its wiring import, logging and
tracing configured as a worker does (tracing off), and the day's calendar read from a warm
cache. None of plotting, the report, the operator (kopf, kubernetes_asyncio), the other
commands, exchange_calendars/pandas, the OpenTelemetry SDK or exporters, or rich (and
pygments) may be loaded by then. What always holds, not a timing: timings are in
``bench/startup.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import tradefleet
from tradefleet.adapters.calendar_cache import FILE_NAME, cached_session_table

SRC = Path(tradefleet.__file__).resolve().parents[1]     # the code under test (or a mutant)
DAY = date(2026, 11, 24)            # a regular KRX session

# The modules ``tradefleet worker`` imports on its way to the first scan
# (commands/worker.py ``_run``/``_run_kis``, then worker/launch.py and what it wires).
WORKER_START = """
import json, sys
from datetime import date
from pathlib import Path

from tradefleet.cli import build_parser

args = build_parser(["worker"]).parse_args(["worker"])
assert args.handler.__module__ == "tradefleet.commands.worker"
from tradefleet.adapters.telemetry.logging import configure_logging
from tradefleet.adapters.telemetry.tracing import configure_tracing, flush_tracing
from tradefleet.settings import load_settings
import aiohttp
from tradefleet.adapters.clock import SimClock, WallClock
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
from tradefleet.adapters.postgres.connect import connect_database, migrate_database
from tradefleet.adapters.sim.exchange.books_client import ListedMarkets
from tradefleet.adapters.telemetry.metrics import WorkerMetrics
from tradefleet.settings.secrets import FernetCipher, read_key
from tradefleet.worker.launch import launch
from tradefleet.worker.wiring import build_worker
from tradefleet.adapters.calendar_cache import krx_calendar

configure_logging(json_output=True)
assert configure_tracing("tradefleet-worker", worker_id="w1") is None, "tracing is off"
flush_tracing()
day = date.fromisoformat(sys.argv[2])
assert krx_calendar(day, cache_dir=Path(sys.argv[1])).session(day) is not None
print(json.dumps(sorted(sys.modules)))
"""

# never loaded by a worker's start-up: top-level packages, and our own subpackages
NOT_AT_START = ("plotly", "kopf", "kubernetes_asyncio", "exchange_calendars", "pandas",
                "opentelemetry.sdk", "opentelemetry.exporter", "rich", "pygments",
                "tradefleet.operator", "tradefleet.adapters.report", "tradefleet.local_fleet",
                "tradefleet.commands.demo", "tradefleet.commands.operator",
                "tradefleet.commands.report", "tradefleet.commands.chaos")


def _worker_start_modules(cache_dir: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "TRADEFLEET_"))}      # tracing off, as by default
    env["PYTHONPATH"] = str(SRC)
    out = subprocess.run([sys.executable, "-c", WORKER_START, str(cache_dir), DAY.isoformat()],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _loaded(modules: set[str], name: str) -> list[str]:
    return sorted(m for m in modules if m == name or m.startswith(name + "."))


def test_worker_start_up_leaves_heavy_and_unused_packages_unloaded(tmp_path):
    cached_session_table(cache_dir=tmp_path)            # warm: the file a worker reads
    assert (tmp_path / FILE_NAME).is_file()
    modules = _worker_start_modules(tmp_path)
    # the probe itself saw the worker's own modules (so an empty answer cannot pass)
    assert {"tradefleet.worker.launch", "tradefleet.commands.worker", "aiohttp",
            "structlog", "opentelemetry.trace"} <= modules
    loaded = {name: _loaded(modules, name) for name in NOT_AT_START}
    assert not any(loaded.values()), {k: v[:5] for k, v in loaded.items() if v}


def test_the_deferred_paths_still_load_when_asked(tmp_path):
    """The other side of the deferral: the full command line lists every command, and
    tracing with an exporter installs the SDK provider."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRADEFLEET_"))}
    env["PYTHONPATH"] = str(SRC)
    probe = """
import sys
from tradefleet.cli import COMMANDS, build_parser
parser = build_parser()
names = set(parser._subparsers._group_actions[0].choices)
assert names == set(COMMANDS), names
assert "tradefleet.commands.operator" in sys.modules
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tradefleet.adapters.telemetry.tracing import configure_tracing
provider = configure_tracing("t", exporter=InMemorySpanExporter())
assert type(provider).__module__.startswith("opentelemetry.sdk"), type(provider)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
