"""The shipped strategies and the contract (``base.py``) a user's own strategy meets.

``get_strategy`` builds a shipped one by name; the worker resolves names through
``tradefleet.strategy_plugins`` (shipped, then the ``tradefleet.strategies`` entry points, or
a file named by ``strategy.path``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies.base import (
    SignalResult,
    Strategy,
    StrategyBase,
    StrategyFailed,
    StrategyParams,
    StrategyParamsError,
    param_hash,
)
from tradefleet.domain.strategies.ma_breakout import MaBreakout
from tradefleet.domain.strategies.volume_surge import VolumeSurge

REGISTRY: dict[str, Callable[[dict[str, Any]], Strategy]] = {
    MaBreakout.name: MaBreakout,
    VolumeSurge.name: VolumeSurge,
}


def get_strategy(name: str, params: dict[str, Any]) -> Strategy:
    """Build the named shipped strategy; ConfigError names the bad field."""
    factory = REGISTRY.get(name)
    if factory is None:
        raise ConfigError(f"strategy.name: unknown strategy {name!r}; known: {sorted(REGISTRY)}")
    if not isinstance(params, dict):
        raise ConfigError(f"strategy.params must be a mapping, got {type(params).__name__}")
    return factory(params)


__all__ = ["REGISTRY", "SignalResult", "Strategy", "StrategyBase", "StrategyFailed",
           "StrategyParams", "StrategyParamsError", "get_strategy", "param_hash"]
