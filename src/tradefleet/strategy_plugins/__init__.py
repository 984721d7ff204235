"""Strategies as the user's own code: resolved by name from the shipped ones, from the
``tradefleet.strategies`` entry-point group, or from a file or package named by
``strategy.path`` (see ``loader.py``; the contract is ``domain/strategies/base.py``)."""

from tradefleet.strategy_plugins.loader import (
    ENTRY_POINT_GROUP,
    available_strategies,
    load_strategy,
)

__all__ = ["ENTRY_POINT_GROUP", "available_strategies", "load_strategy"]
