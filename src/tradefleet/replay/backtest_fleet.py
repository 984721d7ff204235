"""The settings of a backtest's workers: the production ``Settings`` of each (validated as a
worker's are), from the ``--config`` file if one is given, then the command's flags. The
process environment's TRADEFLEET_* values are not read: a backtest is its files and flags,
so that the same command gives the same summary anywhere. A bad value is reported under the
flag that gave it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tradefleet.domain.errors import ConfigError
from tradefleet.settings import Settings, load_settings

MAX_WORKERS = 50
# what a worker needs that a backtest without --config does not say: a simulated broker and
# risk limits (the capital each worker may commit, its daily loss limit), in won
DEFAULTS = {"TRADEFLEET_MODE": "sim", "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000"}


def worker_id(k: int) -> str:
    return f"bt-{k}"


def read_params(path: Path) -> dict[str, Any]:
    """A strategy's parameters from a JSON or YAML mapping (name: value)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"--params {path}: cannot be read: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)      # JSON is YAML
    except yaml.YAMLError as exc:
        raise ConfigError(f"--params {path}: neither JSON nor YAML: {exc}") from None
    if not isinstance(doc, dict) or not all(isinstance(k, str) for k in doc):
        raise ConfigError(f"--params {path}: expected a mapping of parameter names to "
                          f"values, got {type(doc).__name__}")
    return doc


def fleet_settings(workers: int, *, config: Path | None = None, strategy: str | None = None,
                   params: Path | None = None) -> list[Settings]:
    """``workers`` workers ``bt-1``..``bt-N``, alike but for their ids."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers: must be between 1 and {MAX_WORKERS}, got {workers}")
    if config is not None and not Path(config).is_file():
        raise ConfigError(f"--config {config}: no such file")
    env = {} if config is not None else dict(DEFAULTS)
    if config is not None:
        env["TRADEFLEET_MODE"] = "sim"
    if strategy is not None:
        env["TRADEFLEET_STRATEGY__NAME"] = strategy
    if params is not None:
        env["TRADEFLEET_STRATEGY__PARAMS"] = json.dumps(read_params(params), sort_keys=True)
    fleet = []
    for k in range(1, workers + 1):
        try:
            fleet.append(load_settings(config, {**env, "TRADEFLEET_WORKER_ID": worker_id(k)}))
        except ConfigError as exc:
            raise ConfigError(_by_flag(str(exc), params)) from None
    return fleet


def _by_flag(message: str, params: Path | None) -> str:
    """Env names the user never typed, replaced by the flags that set them."""
    message = message.replace("(TRADEFLEET_STRATEGY__NAME)", "(--strategy)")
    return re.sub(r"\(TRADEFLEET_STRATEGY__PARAMS(__\w+)?\)",
                  f"(--params {params})" if params else "(--config)", message)
