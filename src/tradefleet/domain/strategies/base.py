"""The contract every entry strategy meets, plus the parameter fingerprint.

Strategies are pure and vectorised: one call scores the whole universe. ``param_version``
is recorded with each position so a result can be traced to the exact parameters used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tradefleet.domain.errors import ConfigError


class StrategyParamsError(ConfigError):
    """Bad strategy parameters, one message per parameter (settings name each one with its
    env var; the text alone reads ``strategy.params.NAME: message; ...``)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"strategy.params.{name}: {message}"
                                   for name, message in self.problems.items()))


@dataclass(frozen=True, slots=True)
class SignalResult:
    signal: np.ndarray                  # bool per symbol
    score: np.ndarray                   # float per symbol (NaN when not computable)
    indicators: dict[str, np.ndarray]   # last-bar indicator values per symbol


@runtime_checkable
class Strategy(Protocol):
    name: str
    strategy_version: str
    param_version: str
    bars_needed: int

    def evaluate(
        self, closes: np.ndarray, volumes: np.ndarray, prices: np.ndarray
    ) -> SignalResult: ...


def param_hash(params: dict[str, Any]) -> str:
    """Stable short fingerprint of canonical params (key order and int/str noise removed)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
