"""Strategy registry: one small class per strategy, chosen by name from settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies.base import (
    SignalResult,
    Strategy,
    StrategyParamsError,
    param_hash,
)
from tradefleet.domain.strategies.ma_breakout import MaBreakout

REGISTRY: dict[str, Callable[[dict[str, Any]], Strategy]] = {
    MaBreakout.name: MaBreakout,
}


def get_strategy(name: str, params: dict[str, Any]) -> Strategy:
    """Build the named strategy; ConfigError names the bad field."""
    factory = REGISTRY.get(name)
    if factory is None:
        raise ConfigError(f"strategy.name: unknown strategy {name!r}; known: {sorted(REGISTRY)}")
    if not isinstance(params, dict):
        raise ConfigError(f"strategy.params must be a mapping, got {type(params).__name__}")
    return factory(params)


__all__ = ["SignalResult", "Strategy", "StrategyParamsError", "get_strategy", "param_hash"]
